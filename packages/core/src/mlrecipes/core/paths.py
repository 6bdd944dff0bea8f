"""The one owner of every path mlrecipes keeps: a workspace's ``.mlrecipes/`` and the cache.

Every file or folder under ``.mlrecipes/`` is named here and nowhere else; the
user-wide cache (git mirrors, the runner's compiled script) is under git_sources'
:func:`~mlrecipes.git_sources.default_cache_dir`. Modules take the path they need
from :class:`WorkspacePaths` (or are handed it), never join a literal onto it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the manifest layer imports this module for STATE_DIR
    from mlrecipes.core.manifest import Manifest

STATE_DIR = ".mlrecipes"
MLFLOW_ARTIFACTS = "mlartifacts"  # beside an embedded sqlite store, wherever that store is
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
        return self.state / MLFLOW_ARTIFACTS

    @property
    def tmp(self) -> Path:
        """Scratch folders (sweep variants, team-store downloads, study summaries)."""
        return self.state / "tmp"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def tracker_log(self) -> Path:
        """The warm tracker's output (MLflow's warnings and tracebacks), redacted."""
        return self.logs / "tracker.log"

    @property
    def ui_log(self) -> Path:
        """The output of the MLflow UI that ``mlrecipes ui`` starts."""
        return self.state / "ui.log"

    @property
    def hash_cache(self) -> Path:
        """File hashes by path, size and mtime, so an unchanged dep is not read again."""
        return self.state / "hashes.json"

    @property
    def study_db(self) -> Path:
        """Optuna's default study storage (sqlite)."""
        return self.state / "optuna.db"

    @property
    def upstream_record(self) -> Path:
        """What the last ``workspace status --fetch`` saw upstream."""
        return self.state / "upstream.json"

    @property
    def pycache(self) -> Path:
        """Bytecode of ``--dev`` checkouts, kept out of the user's folder."""
        return self.state / "pycache"

    @property
    def debug(self) -> Path:
        """Work folders of ``step run`` / ``step call``."""
        return self.state / "debug"

    @property
    def reproduce(self) -> Path:
        """The files ``reproduce`` downloads from the logged run."""
        return self.state / "reproduce"

    @property
    def outbox(self) -> Path:
        """Tracking events not yet in MLflow (:mod:`mlrecipes.core.tracking.outbox`)."""
        return self.state / "outbox"

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


def runner_cache_dir() -> Path:
    """The runner script compiled per interpreter: ``<cache>/runner``.

    The cache folder itself is git_sources' :func:`default_cache_dir`
    (``$MLRECIPES_CACHE_DIR``, ``~`` expanded, else ``~/.cache/mlrecipes``).
    """
    from mlrecipes.git_sources import default_cache_dir  # at use: a 0.3 s import

    return default_cache_dir() / "runner"
