"""Finding a step's entry in the team store and downloading it into the local store.

A remote entry is a FINISHED step run with the step's fingerprint and the
``mlrecipes.outputs.sha256`` tag (its upload completed). :func:`fetch_entry`
downloads it into a temp folder of the local :class:`~mlrecipes.core.store.local.Store`
(the store's own ``begin``/``publish``/``discard``: the same atomic publish
as a step that ran here), checks the manifest against the tag and every file
against the manifest, and only then publishes. A failure or an interrupt
discards the temp folder: no entry, and the step runs instead.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrecipes.core.store.local import EntryRecord, Store
from mlrecipes.core.team_store import _mlflow
from mlrecipes.core.team_store._download import download_file
from mlrecipes.core.team_store.manifest import (
    FILES_DIR,
    MANIFEST_NAME,
    MANIFEST_PATH,
    FileEntry,
    ManifestProblem,
    OutputsManifest,
    verify_file,
)
from mlrecipes.core.tracking.base import (
    KIND_STEP,
    TAG_FINGERPRINT,
    TAG_KIND,
    TAG_OUTPUTS_SHA256,
    TAG_STEP,
)
from mlrecipes.core.tracking.mlflow_tracker import quote


@dataclass(frozen=True)
class RemoteEntry:
    """A step run that holds a complete upload of the entry ``step``/``fingerprint``."""

    run_id: str
    step: str
    fingerprint: str
    manifest_sha256: str
    artifact_uri: str


@dataclass(frozen=True)
class FetchResult:
    """``entry`` is the published local entry; ``reason`` says why there is none."""

    remote: RemoteEntry
    entry: Path | None
    reason: str = ""
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.entry is not None


def find_remote_entry(
    client: Any, experiment_id: str, step: str, fingerprint: str
) -> RemoteEntry | None:
    """The newest complete upload of ``step`` at ``fingerprint`` in one experiment."""
    where = (
        f"tags.`{TAG_FINGERPRINT}` = {quote(fingerprint)}"
        f" AND tags.`{TAG_STEP}` = {quote(step)}"
        f" AND tags.`{TAG_KIND}` = '{KIND_STEP}'"
        f" AND tags.`{TAG_OUTPUTS_SHA256}` LIKE '%'"
        " AND attributes.status = 'FINISHED'"
    )
    runs = client.search_runs(
        [experiment_id], filter_string=where, order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        return None
    run = runs[0]
    return RemoteEntry(
        run_id=str(run.info.run_id),
        step=step,
        fingerprint=fingerprint,
        manifest_sha256=str(run.data.tags[TAG_OUTPUTS_SHA256]),
        artifact_uri=str(run.info.artifact_uri),
    )


def fetch_entry(
    remote: RemoteEntry,
    store: Store,
    *,
    tracking_uri: str,
    expected_outputs: Iterable[str] = (),
    label: str = "",
    on_file: Callable[[FileEntry], None] | None = None,
) -> FetchResult:
    """Download, verify and publish ``remote`` as the local entry (see module doc).

    ``on_file`` is called after each verified file (progress; it may raise to
    stop). Errors become a result with a reason; ``KeyboardInterrupt`` discards
    the temp folder and propagates.
    """
    tmp = store.begin(remote.step, remote.fingerprint)
    try:
        manifest = _download(remote, tmp, tracking_uri, on_file)
        missing = [rel for rel in expected_outputs if not os.path.lexists(tmp / rel)]
        if missing:
            raise ManifestProblem(f"the download lacks output(s) {', '.join(missing)}")
    except BaseException as exc:
        store.discard(tmp)
        if not isinstance(exc, Exception):
            raise
        reason = str(exc) if isinstance(exc, ManifestProblem) else _mlflow.safe_reason(exc)
        return FetchResult(remote, None, reason)
    record = EntryRecord(
        step=remote.step,
        fingerprint=remote.fingerprint,
        metrics=manifest.metrics,
        outputs=manifest.outputs,
        run_id=remote.run_id,
        label=label,
        finished_at=time.time(),
        code=manifest.code,
        code_key=manifest.code_key,
    )
    entry = store.publish(tmp, remote.step, remote.fingerprint, record)
    return FetchResult(remote, entry, size=manifest.total_size)


def download_entry(remote: RemoteEntry, folder: Path, *, tracking_uri: str) -> OutputsManifest:
    """Download ``remote``'s files into ``folder``, each verified; raises on any problem.

    For a caller with a folder of its own (Ray's ``store`` mode fills a step's
    temp entry with what its node published).
    """
    return _download(remote, folder, tracking_uri, None)


def _download(
    remote: RemoteEntry,
    tmp: Path,
    tracking_uri: str,
    on_file: Callable[[FileEntry], None] | None,
) -> OutputsManifest:
    repo = _mlflow.artifact_repo(remote.artifact_uri, tracking_uri)
    manifest = _read_manifest(repo, remote)
    for item in manifest.files:
        target = tmp / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        # One file to exactly `target`, stopped at its size; the public
        # `download_artifacts` adds the remote folders and lists before each file.
        download_file(repo, f"{FILES_DIR}/{item.path}", target, item.size, item.path)
        verify_file(target, item)
        if on_file is not None:
            on_file(item)
    return manifest


def _read_manifest(repo: Any, remote: RemoteEntry) -> OutputsManifest:
    with tempfile.TemporaryDirectory(prefix="mlrecipes-manifest-") as folder:
        local = Path(folder) / MANIFEST_NAME
        repo._download_file(MANIFEST_PATH, str(local))
        raw = local.read_bytes()
    if hashlib.sha256(raw).hexdigest() != remote.manifest_sha256:
        raise ManifestProblem("the outputs manifest does not match its checksum on the run")
    manifest = OutputsManifest.from_bytes(raw)
    if (manifest.step, manifest.fingerprint) != (remote.step, remote.fingerprint):
        raise ManifestProblem("the outputs manifest is for another step or fingerprint")
    return manifest
