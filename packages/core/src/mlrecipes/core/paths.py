"""The on-disk layout of a workspace's state folder (``.mlrecipes/``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.manifest import Manifest

STATE_DIR = ".mlrecipes"
_GITIGNORE = "# state of mlrecipes: checkouts, environments, step store, embedded MLflow\n*\n"


@dataclass(frozen=True)
class WorkspacePaths:
    """Absolute paths of everything mlrecipes keeps for one workspace."""

    root: Path

    @classmethod
    def for_manifest(cls, manifest: Manifest) -> WorkspacePaths:
        return cls(manifest.root.resolve())

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def checkouts(self) -> Path:
        return self.state / "checkouts"

    @property
    def envs(self) -> Path:
        return self.state / "envs"

    @property
    def store(self) -> Path:
        return self.state / "store"

    @property
    def runs(self) -> Path:
        """Small local records of finished pipeline runs (the "up to date" fast path)."""
        return self.state / "runs"

    @property
    def mlflow_db(self) -> Path:
        return self.state / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.state / "mlartifacts"

    def ensure(self) -> None:
        """Create the state folder, git-ignored so it is never committed by accident."""
        for folder in (self.checkouts, self.envs, self.store, self.runs):
            folder.mkdir(parents=True, exist_ok=True)
        ignore = self.state / ".gitignore"
        if not ignore.exists():
            ignore.write_text(_GITIGNORE)
