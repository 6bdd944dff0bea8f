"""Publishing to a real (sqlite + folder) MLflow store; abandoning uploads on Ctrl-C."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.manifest import StoreConfig
from mlrecipes.core.store import Store
from mlrecipes.core.team_store import (
    PublishJob,
    RemoteEntry,
    ShareSettings,
    Uploads,
    fetch_entry,
    find_remote_entry,
    publish_outputs,
    share_settings,
)
from mlrecipes.core.tracking.base import TAG_FINGERPRINT, TAG_KIND, TAG_OUTPUTS_SHA256, TAG_STEP


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


def test_abandon_drops_queued_uploads(
    tmp_path: Path, tracking: tuple[Any, str, ShareSettings]
) -> None:
    client, experiment, settings = tracking
    entry = _entry(tmp_path, 1)
    release = threading.Event()

    def slow_client(_uri: str) -> Any:
        release.wait(30)
        return client

    uploads = Uploads(settings, make_client=slow_client)
    jobs = [_job(client, experiment, entry) for _ in range(3)]
    for job in jobs:
        uploads.submit(job)
    uploads.abandon()
    release.set()
    assert uploads.wait() == []
    assert all(TAG_OUTPUTS_SHA256 not in client.get_run(j.run_id).data.tags for j in jobs)


def test_uploads_wait_returns_every_result(
    tmp_path: Path, tracking: tuple[Any, str, ShareSettings]
) -> None:
    client, experiment, settings = tracking
    seen: list[str] = []
    limited = ShareSettings(settings.tracking_uri, 10, strict=True)  # the 2nd is too large
    uploads = Uploads(limited, on_result=lambda r: seen.append(r.status))
    small = tmp_path / "small"
    (small / "out").mkdir(parents=True)
    (small / "out" / "x").write_text("tiny")
    uploads.submit(_job(client, experiment, small))
    uploads.submit(_job(client, experiment, _entry(tmp_path, 4)))
    results = uploads.wait()
    assert [r.status for r in results] == seen == ["uploaded", "skipped"]
    assert results[1].kind == "too-large"
