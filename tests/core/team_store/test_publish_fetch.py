"""Publishing to and fetching from a real (sqlite + folder) MLflow store."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlrecipes.core.manifest import StoreConfig
from mlrecipes.core.store.local import Store
from mlrecipes.core.team_store import (
    PublishJob,
    RemoteEntry,
    ShareSettings,
    fetch_entry,
    find_remote_entry,
    publish_outputs,
    share_settings,
)
from mlrecipes.core.team_store.publish import publish_in_tracker, read_results
from mlrecipes.core.tracking.base import (
    TAG_FINGERPRINT,
    TAG_KIND,
    TAG_OUTPUTS_SHA256,
    TAG_OUTPUTS_SKIPPED,
    TAG_STEP,
)


@pytest.fixture
def tracking(tmp_path: Path, blank_mlflow_db: Path) -> tuple[Any, str, ShareSettings]:
    from mlflow import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copyfile(blank_mlflow_db, db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("x", artifact_location=(tmp_path / "artifacts").as_uri())
    settings = share_settings(StoreConfig(share="on"), uri, enabled=True)
    assert settings is not None
    return client, experiment, settings


def _entry(root: Path, files: int) -> Path:
    entry = root / "entry"
    (entry / "out").mkdir(parents=True)
    for i in range(files):
        (entry / "out" / f"f{i}.txt").write_text(f"file {i}")
    return entry


def _job(client: Any, experiment: str, entry: Path) -> PublishJob:
    tags = {TAG_KIND: "step", TAG_STEP: "s", TAG_FINGERPRINT: "fp1"}
    run = client.create_run(experiment, tags=tags)
    client.set_terminated(run.info.run_id, "FINISHED")
    return PublishJob(run.info.run_id, "s", "fp1", entry, {"m": 1.0}, ("out",))


def test_publish_then_fetch_round_trip(
    tmp_path: Path, tracking: tuple[Any, str, ShareSettings]
) -> None:
    client, experiment, settings = tracking
    job = _job(client, experiment, _entry(tmp_path, 3))
    assert publish_outputs(client, job, settings).status == "uploaded"
    remote = find_remote_entry(client, experiment, "s", "fp1")
    assert remote is not None and remote.run_id == job.run_id
    store = Store(tmp_path / "store")
    uri = settings.tracking_uri
    result = fetch_entry(remote, store, tracking_uri=uri, expected_outputs=["out"])
    assert result.ok
    assert (store.entry("s", "fp1") / "out" / "f2.txt").read_text() == "file 2"
    record = store.read_record("s", "fp1")
    assert record is not None
    assert (record.metrics, record.outputs, record.run_id) == ({"m": 1.0}, ("out",), job.run_id)


def test_a_stopped_upload_is_never_found(
    tmp_path: Path, tracking: tuple[Any, str, ShareSettings]
) -> None:
    client, experiment, settings = tracking
    job = _job(client, experiment, _entry(tmp_path, 5))
    calls = iter([False, False, True])
    result = publish_outputs(client, job, settings, stop=lambda: next(calls))
    assert result.status == "abandoned"
    assert TAG_OUTPUTS_SHA256 not in client.get_run(job.run_id).data.tags
    assert find_remote_entry(client, experiment, "s", "fp1") is None


def test_a_wrong_manifest_checksum_leaves_no_entry(
    tmp_path: Path, tracking: tuple[Any, str, ShareSettings]
) -> None:
    client, experiment, settings = tracking
    job = _job(client, experiment, _entry(tmp_path, 1))
    publish_outputs(client, job, settings)
    remote = find_remote_entry(client, experiment, "s", "fp1")
    assert remote is not None
    forged = RemoteEntry(remote.run_id, "s", "fp1", "0" * 64, remote.artifact_uri)
    store = Store(tmp_path / "store")
    result = fetch_entry(forged, store, tracking_uri=settings.tracking_uri)
    assert not result.ok and "does not match its checksum" in result.reason
    assert list((store.root / "s").iterdir()) == []


def test_post_run_job_reports_through_result_files(
    tmp_path: Path, tracking: tuple[Any, str, ShareSettings]
) -> None:
    """The tracker runs the job as ``job(tracker, run_id)``; the run reads the results."""
    client, experiment, settings = tracking
    limited = ShareSettings(settings.tracking_uri, 10, strict=True)  # the 2nd is too large
    tracker = SimpleNamespace(client=client)
    small = tmp_path / "small"
    (small / "out").mkdir(parents=True)
    (small / "out" / "x").write_text("tiny")
    results = tmp_path / "results"
    for entry in (small, _entry(tmp_path, 4)):
        job = _job(client, experiment, entry)
        template = dataclasses.replace(job, run_id="")
        publish_in_tracker(template, limited, results, tracker, job.run_id)
    found = read_results(results)
    assert [(r.status, r.kind) for r in found] == [("uploaded", ""), ("skipped", "too-large")]
    assert "more than store.max_size (10 B)" in found[1].reason
    tags = client.get_run(found[1].run_id).data.tags
    assert tags[TAG_OUTPUTS_SKIPPED] == found[1].reason.removeprefix("not shared: ")
