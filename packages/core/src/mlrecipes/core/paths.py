"""The on-disk layout of a workspace's state folder (``.mlrecipes/``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.manifest import Manifest

STATE_DIR = ".mlrecipes"
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
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

    @property
    def outbox(self) -> Path:
        """Tracking events not yet in MLflow (:mod:`mlrecipes.core.tracking.outbox`)."""
        return self.state / "outbox"

    @property
    def tracker_log(self) -> Path:
        """Where the tracker process writes MLflow's warnings and its own errors."""
        return self.state / "logs" / "tracker.log"

    @property
    def tracker_lock(self) -> Path:
        """Held by the warm tracker while it lives: one per workspace."""
        return self.state / "tracker.lock"

    @property
    def tracker_socket(self) -> Path:
        """The warm tracker's unix socket: in the state folder, or (a path too long for
        a socket address) in a per-user temp folder keyed by the state folder."""
        path = self.state / "tracker.sock"
        if len(os.fsencode(path)) < _SOCKET_PATH_MAX:
            return path
        key = hashlib.sha256(os.fsencode(self.state)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"mlrecipes-{os.getuid()}" / f"{key}.sock"

    def ensure(self) -> None:
        """Create the state folder, git-ignored so it is never committed by accident."""
        for folder in (self.checkouts, self.envs, self.store, self.runs):
            folder.mkdir(parents=True, exist_ok=True)
        ignore = self.state / ".gitignore"
        if not ignore.exists():
            ignore.write_text(_GITIGNORE)
