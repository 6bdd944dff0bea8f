"""Uploading a step's store entry to its MLflow step run (see :mod:`.manifest`).

Files go first, the manifest next, the ``mlrecipes.outputs.sha256`` tag last:
a run without the tag is never fetched, so an upload cut short (an error, a
Ctrl-C) leaves nothing that another machine would trust.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlrecipes.core.team_store import _mlflow
from mlrecipes.core.team_store.config import ShareSettings, human_size, unreachable_artifacts
from mlrecipes.core.team_store.manifest import (
    FILES_DIR,
    MANIFEST_NAME,
    OUTPUTS_DIR,
    ManifestProblem,
    OutputsManifest,
    scan_entry,
)
from mlrecipes.core.tracking.base import TAG_OUTPUTS_SHA256, TAG_OUTPUTS_SKIPPED

PublishStatus = Literal["uploaded", "skipped", "failed", "abandoned"]
SkipKind = Literal["", "too-large", "unshareable", "no-artifact-serving"]


@dataclass(frozen=True)
class PublishJob:
    """One executed step whose entry is to be shared through its step run."""

    run_id: str
    step: str
    fingerprint: str
    entry: Path
    metrics: Mapping[str, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    code: Mapping[str, Any] | None = None
    """The entry's code record and key without code, shared with it."""
    code_key: str | None = None


@dataclass(frozen=True)
class PublishResult:
    step: str
    run_id: str
    status: PublishStatus
    reason: str = ""
    kind: SkipKind = ""
    size: int = 0


def publish_outputs(
    client: Any,
    job: PublishJob,
    settings: ShareSettings,
    *,
    stop: Callable[[], bool] = lambda: False,
) -> PublishResult:
    """Upload ``job.entry`` under ``mlrecipes/outputs/`` of ``job.run_id``.

    ``client`` is an ``MlflowClient``. Never raises for MLflow or network
    errors: the result says what happened (``stop()`` true abandons it).
    """
    try:
        return _publish(client, job, settings, stop)
    except Exception as exc:
        reason = f"upload failed: {_mlflow.safe_reason(exc)}"
        return PublishResult(job.step, job.run_id, "failed", reason)


def _publish(
    client: Any, job: PublishJob, settings: ShareSettings, stop: Callable[[], bool]
) -> PublishResult:
    try:
        files = scan_entry(job.entry)
    except ManifestProblem as exc:
        return _skip(client, job, "unshareable", str(exc))
    manifest = OutputsManifest(
        job.step, job.fingerprint, files, job.metrics, job.outputs, job.code, job.code_key
    )
    if manifest.total_size > settings.max_size:
        why = (
            f"outputs are {human_size(manifest.total_size)}, more than store.max_size "
            f"({human_size(settings.max_size)})"
        )
        return _skip(client, job, "too-large", why)
    artifact_uri = str(client.get_run(job.run_id).info.artifact_uri)
    if unreachable_artifacts(settings, artifact_uri):
        why = "the MLflow server does not serve artifacts (start it with --serve-artifacts)"
        return _skip(client, job, "no-artifact-serving", why)
    repo = _mlflow.artifact_repo(artifact_uri, settings.tracking_uri)
    for item in files:
        if stop():
            return PublishResult(job.step, job.run_id, "abandoned", "the run was interrupted")
        folder = posixpath.dirname(item.path)
        repo.log_artifact(str(job.entry / item.path), f"{FILES_DIR}/{folder}".rstrip("/"))
    raw = manifest.to_bytes()
    with tempfile.TemporaryDirectory(prefix="mlrecipes-outputs-") as tmp:
        (Path(tmp) / MANIFEST_NAME).write_bytes(raw)
        repo.log_artifact(str(Path(tmp) / MANIFEST_NAME), OUTPUTS_DIR)
    client.set_tag(job.run_id, TAG_OUTPUTS_SHA256, hashlib.sha256(raw).hexdigest())
    return PublishResult(job.step, job.run_id, "uploaded", size=manifest.total_size)


def publish_in_tracker(
    job: PublishJob, settings: ShareSettings, results: Path, tracker: Any, run_id: str
) -> None:
    """:func:`publish_outputs` as the tracker's post-run job (``job(tracker, run_id)``).

    Runs in the tracker process, behind the step run's logging, with its client;
    the result goes to ``results/<run_id>.json`` for the run to report. Never
    raises: a failed upload must not turn into a tracking error.
    """
    result = publish_outputs(tracker.client, dataclasses.replace(job, run_id=run_id), settings)
    try:
        results.mkdir(parents=True, exist_ok=True)
        (results / f"{run_id}.json").write_text(json.dumps(dataclasses.asdict(result)))
    except OSError:
        pass  # the run then reports nothing about this upload; the run's tags still say it


def read_results(results: Path) -> list[PublishResult]:
    """What :func:`publish_in_tracker` wrote, oldest first (unreadable files skipped)."""
    found: list[PublishResult] = []
    for path in sorted(results.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
        try:
            found.append(PublishResult(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return found


def _skip(client: Any, job: PublishJob, kind: SkipKind, why: str) -> PublishResult:
    """Say on the run why its outputs are not shared; the same words for the user."""
    client.set_tag(job.run_id, TAG_OUTPUTS_SKIPPED, why)
    return PublishResult(job.step, job.run_id, "skipped", f"not shared: {why}", kind)
