"""The node side of Ray's ``store`` mode: a task that carries keys, not paths.

A node that does not see the driver's workspace gets, per step, the manifest
and the lock (repo URLs and locked commits), the repo and the identity of the
environment the driver fingerprinted, the step's params, and where each input
lives in the team store. It then:

1. keeps a workspace of its own per driver workspace
   (``$MLRECIPES_CACHE_DIR/ray-node/<id>/``), syncs the step's repo there at the
   locked commits (``sync --frozen``: its own mirror cache, checkouts and uv
   environments, reused across steps and runs on that node, keyed as usual) and
   checks that its environment has the driver's identity;
2. fetches each input into its own store by fingerprint (``!out``) or content
   hash (``!path``), verified by SHA-256;
3. runs the step with the same runner as ``shared`` mode;
4. publishes the outputs to the step's MLflow run in the team store before it
   reports success, and keeps them in its own store for later steps.

Unlike the ``shared`` mode's node module (shipped by value), this module
needs mlrecipes on the node (the ``ray`` extra): it checks out with
``git_sources`` and builds with ``envs``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlrecipes.core.executors import launch_runner as launch
from mlrecipes.core.executors import node_name
from mlrecipes.core.executors.runner import build_spec
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.manifest import FrozenMap, Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.store.local import EntryRecord, Store
from mlrecipes.core.sync.lock import Lock, lock_path_for, write_lock
from mlrecipes.core.sync.workspace_sync import RepoContext, lock_url, sync_workspace
from mlrecipes.core.team_store import _mlflow
from mlrecipes.core.team_store.config import ShareSettings
from mlrecipes.core.team_store.fetch import RemoteEntry, fetch_entry
from mlrecipes.core.team_store.manifest import sha256_file
from mlrecipes.core.team_store.publish import PublishJob, publish_outputs
from mlrecipes.core.tracking.base import TAG_OUTPUTS_SHA256
from mlrecipes.git_sources import default_cache_dir
from mlrecipes.git_sources.urls import local_path, redact_text


class NodeError(Exception):
    """The node cannot run the step (checkout, environment, inputs, publishing)."""


@dataclasses.dataclass(frozen=True)
class FileInput:
    """An external ``!path`` input: a blob of the team store named by its SHA-256."""

    sha256: str
    name: str
    blobs_uri: str


@dataclasses.dataclass(frozen=True)
class OutInput:
    """An ``!out`` input: file ``rel`` of the team store entry ``remote``."""

    remote: RemoteEntry
    rel: str


@dataclasses.dataclass(frozen=True)
class StoreTask:
    """What the driver sends a node for one step in ``store`` mode."""

    task: StepTask
    manifest: Manifest
    lock: Lock
    workspace_id: str
    env_identity: str | None
    inputs: Mapping[str, FileInput | OutInput]
    settings: ShareSettings
    run_id: str
    runner_source: str
    grace: float


def node_root(workspace_id: str) -> Path:
    """This node's workspace for one driver workspace."""
    return default_cache_dir() / "ray-node" / workspace_id


def run_store_step(job: StoreTask) -> dict[str, Any]:
    """Run one step on this node (see module doc); never raises for the step's failure.

    Returns what the shared mode's launcher returns plus, on success, ``remote``
    (the published entry); ``{"error": ...}`` when the node cannot run it.
    """
    try:
        return _run(job)
    except NodeError as exc:
        return {"error": f"Ray node {node_name()}: {exc}"}
    except Exception as exc:  # an MLflow or network error: one line, no credentials
        why = f"{type(exc).__name__}: {_mlflow.safe_reason(exc)}"
        return {"error": f"Ray node {node_name()}: {redact_text(why)}"}


def _run(job: StoreTask) -> dict[str, Any]:
    task = job.task
    manifest = node_manifest(job.manifest, node_root(job.workspace_id))
    ctx = _sync(manifest, job)
    store = Store(WorkspacePaths.for_manifest(manifest).store)
    inputs = {name: _fetch_input(name, spec, store, job) for name, spec in job.inputs.items()}
    tmp = store.begin(task.step, task.fingerprint)
    log_path = store.log_path(task.step, task.fingerprint)
    try:
        local = dataclasses.replace(
            task, python=ctx.env.python, cwd=ctx.source.project_dir, inputs=inputs
        )
        result_path = log_path.with_suffix(".result.json")
        payload = {
            "python": str(ctx.env.python),
            "cwd": str(ctx.source.project_dir),
            "spec": build_spec(local, entry=tmp, result=result_path),
            "env": dict(task.env),
            "runner_source": job.runner_source,
            "grace": job.grace,
        }
        reply = launch(payload, log_path.with_suffix(".spec.json"), log_path)
        if reply["returncode"] == 0 and not reply["killed"]:
            reply["remote"] = _publish(job, tmp, store, reply)
        return reply
    finally:
        if tmp.exists():
            store.discard(tmp)


def node_manifest(manifest: Manifest, root: Path) -> Manifest:
    """The driver's manifest, living in ``root``: local URLs made absolute, no dev copies."""
    repos = {}
    for name, repo in manifest.repos.items():
        url = repo.url
        folder = local_path(url, manifest.root) if isinstance(url, str) else None
        repos[name] = dataclasses.replace(repo, url=str(folder) if folder else url)
    return dataclasses.replace(
        manifest, path=root / "workspace.yaml", repos=FrozenMap(repos), dev_paths=FrozenMap()
    )


def _sync(manifest: Manifest, job: StoreTask) -> RepoContext:
    """The step's repo checked out at its locked commit with its environment built here."""
    repo = job.task.repo
    locked = job.lock.repos.get(repo)
    url = redact_text(str(manifest.repos[repo].url_template)) if repo in manifest.repos else "?"
    if locked is None:
        raise NodeError(
            f"repo {repo!r} is not in workspace.lock (a --dev copy?): store mode runs "
            "locked commits only"
        )
    lock = Lock(
        repos={n: dataclasses.replace(e, url=lock_url(manifest.repos[n])) for n, e in
               job.lock.repos.items() if n in manifest.repos}
    )  # fmt: skip
    paths = WorkspacePaths.for_manifest(manifest)
    paths.root.mkdir(parents=True, exist_ok=True)
    with _locked(paths.root / ".sync.lock"):
        write_lock(lock_path_for(manifest.path), lock)
        try:
            result = sync_workspace(manifest, mode="frozen", only=[repo])
        except Exception as exc:
            reason = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            raise NodeError(
                f"cannot check out or build repo {repo!r} from {url} at "
                f"{locked.commit[:12]}: {reason or type(exc).__name__}"
            ) from None
    ctx = result.repos[repo]
    if job.env_identity is not None and ctx.env_hash != job.env_identity:
        raise NodeError(
            f"the environment of repo {repo!r} built here differs from the driver's "
            f"(identity {ctx.env_hash[:12]}, expected {job.env_identity[:12]}): "
            "the node would not run the code the step's fingerprint names"
        )
    return ctx


def _fetch_input(name: str, spec: FileInput | OutInput, store: Store, job: StoreTask) -> Path:
    if isinstance(spec, OutInput):
        remote = spec.remote
        if not store.is_complete(remote.step, remote.fingerprint):
            got = fetch_entry(
                remote, store, tracking_uri=job.settings.tracking_uri, label=remote.step
            )
            if not got.ok:
                raise NodeError(
                    f"cannot fetch input {name!r} (step {remote.step!r}, run {remote.run_id}) "
                    f"from the team store: {got.reason}"
                )
        return store.entry(remote.step, remote.fingerprint) / spec.rel
    return _fetch_blob(name, spec, store.root.parent / "blobs", job)


def _fetch_blob(name: str, spec: FileInput, blobs: Path, job: StoreTask) -> Path:
    """An external file by content hash, kept under its own name (a suffix may matter)."""
    target = blobs / spec.sha256 / spec.name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{spec.name}.{os.getpid()}.tmp")
    try:
        repo = _mlflow.artifact_repo(spec.blobs_uri, job.settings.tracking_uri)
        repo._download_file(spec.sha256, str(tmp))
        if sha256_file(tmp) != spec.sha256:
            raise NodeError(f"input {name!r}: checksum mismatch on the team store's copy")
        tmp.replace(target)
    except NodeError:
        raise
    except Exception as exc:
        raise NodeError(
            f"cannot fetch input {name!r} from the team store: {_mlflow.safe_reason(exc)}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _publish(job: StoreTask, tmp: Path, store: Store, reply: Mapping[str, Any]) -> RemoteEntry:
    """Upload the outputs to the step's run, then keep them in this node's store."""
    task = job.task
    missing = [n for n, rel in task.outputs.items() if not os.path.lexists(tmp / rel)]
    if missing:
        raise NodeError(f"step {task.display!r} returned without writing {', '.join(missing)}")
    client = _mlflow.make_client(job.settings.tracking_uri)
    metrics = _metrics(reply)
    outputs = tuple(task.outputs.values())
    publish = PublishJob(job.run_id, task.step, task.fingerprint, tmp, metrics, outputs)
    done = publish_outputs(client, publish, job.settings)
    if done.status != "uploaded":
        raise NodeError(
            f"the outputs of step {task.display!r} could not be published to the team store "
            f"({done.reason}); store mode needs them there"
        )
    run = client.get_run(job.run_id)
    record = EntryRecord(
        step=task.step, fingerprint=task.fingerprint, metrics=metrics, outputs=outputs,
        run_id=job.run_id, label=task.display,
    )  # fmt: skip
    store.publish(tmp, task.step, task.fingerprint, record)
    return RemoteEntry(
        run_id=job.run_id,
        step=task.step,
        fingerprint=task.fingerprint,
        manifest_sha256=str(run.data.tags[TAG_OUTPUTS_SHA256]),
        artifact_uri=str(run.info.artifact_uri),
    )


def _metrics(reply: Mapping[str, Any]) -> dict[str, float]:
    try:
        data = json.loads(str(reply.get("result") or "{}"))
        return {str(k): float(v) for k, v in data.get("metrics", {}).items()}
    except (ValueError, TypeError, AttributeError):
        return {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One sync at a time per node workspace (steps run side by side afterwards)."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def workspace_id(manifest: Manifest) -> str:
    """A stable name for the driver's workspace on a node."""
    key = f"{manifest.name}\0{manifest.path.resolve()}"
    return f"{manifest.name[:32]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
