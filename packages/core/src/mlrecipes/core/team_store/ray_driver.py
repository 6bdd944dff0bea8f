"""The driver side of Ray's ``store`` mode: keys out, verified outputs back.

For each task :class:`StoreMode` builds a :class:`~.ray_node.StoreTask`:
the manifest and lock (repo URLs and commits), the environment's identity, the
params, and where each input is in the team store: an upstream step's entry
(published by the node that ran it, or found by fingerprint) or an external
``!path`` file, uploaded once under its SHA-256. The driver never copies a file
to a node. Once a node reports success its outputs are in the team store; the
driver downloads them (verified) into the task's temp entry, so its own store,
declared ``!path`` places, the cache and ``reproduce`` mean what they mean in
``shared`` mode.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlrecipes.core.errors import UserError
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.store.local import Store
from mlrecipes.core.sync.lock import Lock
from mlrecipes.core.team_store import _mlflow
from mlrecipes.core.team_store.config import ShareSettings
from mlrecipes.core.team_store.fetch import RemoteEntry, download_entry, find_remote_entry
from mlrecipes.core.team_store.ray_node import (
    FileInput,
    OutInput,
    StoreTask,
    run_store_step,
    workspace_id,
)


class StoreMode:
    """What the Ray executor needs to run tasks that carry keys (see module doc)."""

    def __init__(
        self, manifest: Manifest, lock: Lock, settings: ShareSettings, store_root: Path
    ) -> None:
        self.manifest, self.lock, self.settings = manifest, lock, settings
        self.store = Store(store_root)
        self.workspace_id = workspace_id(manifest)
        self.published: dict[str, RemoteEntry] = {}  # fingerprint -> entry, this run
        self.blobs: dict[str, str] = {}  # sha256 -> blobs folder URI, uploaded this run
        self._lock = threading.Lock()
        self._client: Any = None
        self._experiment: Any = None

    @property
    def node_function(self) -> Callable[[StoreTask], dict[str, Any]]:
        """What a node runs (imported there: the node needs mlrecipes)."""
        return run_store_step

    def job(self, task: StepTask, *, runner_source: str, grace: float) -> StoreTask:
        """The node's job for ``task``; raises (the step fails) when an input is missing."""
        run_id = task.env.get("MLFLOW_RUN_ID")  # the step run, made before it starts
        if not run_id:
            raise RuntimeError("store mode needs the step's MLflow run before it starts")
        locked = self.lock.repos.get(task.repo)
        inputs = {name: self._input(task, name) for name in task.input_ids}
        return StoreTask(
            task=task,
            manifest=self.manifest,
            lock=self.lock,
            workspace_id=self.workspace_id,
            env_identity=locked.env if locked is not None else None,
            inputs=inputs,
            settings=self.settings,
            run_id=run_id,
            runner_source=runner_source,
            grace=grace,
        )

    def collect(self, reply: Mapping[str, Any], tmp_entry: Path) -> None:
        """Download what the node published into ``tmp_entry`` (verified)."""
        remote: RemoteEntry = reply["remote"]
        with self._lock:
            self.published[remote.fingerprint] = remote
        try:
            download_entry(remote, tmp_entry, tracking_uri=self.settings.tracking_uri)
        except Exception as exc:
            raise RuntimeError(_mlflow.safe_reason(exc)) from None

    def _input(self, task: StepTask, name: str) -> FileInput | OutInput:
        identity = task.input_ids[name]
        kind, _, key = identity.partition(":")
        path = task.inputs[name]
        if kind == "file":
            return FileInput(key, path.name, self._upload_blob(key, path))
        fingerprint = key.partition("/")[0]
        rel = path.relative_to(self.store.root)  # <step>/<fingerprint>/<output path>
        step, inner = rel.parts[0], Path(*rel.parts[2:]).as_posix()
        return OutInput(self._remote(step, fingerprint), inner)

    def _remote(self, step: str, fingerprint: str) -> RemoteEntry:
        with self._lock:
            known = self.published.get(fingerprint)
        if known is not None:
            return known
        client, experiment = self._connect()
        found = find_remote_entry(client, str(experiment.experiment_id), step, fingerprint)
        if found is None:
            raise UserError(
                f"step {step!r} ({fingerprint[:12]}) is in the local store but not in the "
                "team store, so no Ray node can read it",
                hint=f"run it again with `force` {step} to publish it",
            )
        with self._lock:
            self.published[fingerprint] = found
        return found

    def _upload_blob(self, sha256: str, path: Path) -> str:
        """Upload an external file once under its SHA-256; the URI of the blobs folder."""
        _client, experiment = self._connect()
        base = f"{str(experiment.artifact_location).rstrip('/')}/mlrecipes/blobs"
        with self._lock:
            if sha256 in self.blobs:
                return self.blobs[sha256]
        if path.is_dir():
            raise UserError(
                f"{path} is a folder: store mode moves external inputs one file at a time",
                hint="point the dep at a file, or run with `ray_storage` shared",
            )
        repo = _mlflow.artifact_repo(base, self.settings.tracking_uri)
        present = {Path(item.path).name for item in repo.list_artifacts()}
        if sha256 not in present:
            with tempfile.TemporaryDirectory(prefix="mlrecipes-blob-") as tmp:
                named = Path(tmp) / sha256
                shutil.copyfile(path, named)
                repo.log_artifact(str(named))
        with self._lock:
            self.blobs[sha256] = base
        return base

    def _connect(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                client = _mlflow.make_client(self.settings.tracking_uri)
                experiment = client.get_experiment_by_name(self.manifest.experiment)
                if experiment is None:
                    raise RuntimeError(f"experiment {self.manifest.experiment!r} does not exist")
                self._client, self._experiment = client, experiment
            return self._client, self._experiment


__all__ = ["StoreMode"]
