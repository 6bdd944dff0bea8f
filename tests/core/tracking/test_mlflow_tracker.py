"""MlflowTracker against a real sqlite store in a temp folder."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from tests.core.tracking._build import COMMIT, pipeline_info, step_info

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking import (
    BackgroundTracker,
    MlflowTracker,
    PipelineSummary,
    StepOutcome,
    Tracker,
)


@pytest.fixture
def tracker(store: str) -> MlflowTracker:
    return MlflowTracker(store)


def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def artifact_files(uri: str, run_id: str, path: str | None = None) -> set[str]:
    """Every artifact file of a run, recursively."""
    found: set[str] = set()
    for info in client(uri).list_artifacts(run_id, path):
        found |= artifact_files(uri, run_id, info.path) if info.is_dir else {info.path}
    return found


def test_pipeline_with_two_steps_is_logged_nested(
    tracker: MlflowTracker, store: str, tmp_path: Path
) -> None:
    info = pipeline_info(tmp_path / "files", overrides={"train.lr": 0.01, "seed": 7})
    parent = tracker.start_pipeline(info)
    miss = tracker.create_step_run(
        parent, step_info("featurize", params={"window": 30, "opt": {"lr": 0.1, "tags": [1, 2]}})
    )
    log = tmp_path / "0f3a-20260101.log"
    log.write_text("featurizing\n")
    tracker.finish_step(
        miss,
        StepOutcome(
            "FINISHED", metrics={"rows": 10, "auc": 0.87}, log_path=log, log_name="featurize.log"
        ),
    )
    empty = tmp_path / "empty.log"
    empty.write_text("")
    # logged after the fact, with the times the step really ran
    late = tracker.log_step_run(
        parent,
        dataclasses.replace(step_info("train"), started_at=1_700_000_000.0),
        StepOutcome("FINISHED", log_path=empty, log_name="train.log", finished_at=1_700_000_002.5),
    )
    steps_json = tmp_path / "steps.json"
    steps_json.write_text("{}")
    summary = PipelineSummary(
        tags={"mlrecipes.steps.train.cache": "hit"},
        params={"train": {"lr": 0.01}},
        metrics={"train.auc": 0.9},
        artifacts={"steps": steps_json},
    )
    tracker.finish_pipeline(parent, "FINISHED", summary)

    c = client(store)
    p = c.get_run(parent)
    assert p.info.status == "FINISHED" and p.info.run_name == info.run_name
    assert c.get_experiment(p.info.experiment_id).tags["mlflow.experimentKind"] == (
        "custom_model_development"
    )
    assert p.data.tags["mlrecipes.kind"] == "pipeline"
    assert p.data.tags["mlrecipes.repo.features.commit"] == COMMIT
    assert p.data.tags["mlrecipes.overrides"] == '{"seed": 7, "train.lr": 0.01}'
    assert p.data.tags["mlrecipes.steps.train.cache"] == "hit"
    assert p.data.params == {"train.lr": "0.01", "seed": "7"}
    assert p.data.metrics == {"train.auc": 0.9}
    assert artifact_files(store, parent) == {
        "mlrecipes/manifest/workspace.yaml",
        "mlrecipes/lock/workspace.lock",
        "mlrecipes/params/params.json",
        "mlrecipes/steps/steps.json",
    }

    f, t = c.get_run(miss), c.get_run(late)
    for run, step in ((f, "featurize"), (t, "train")):
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == p.info.experiment_id
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.data.tags["mlflow.runName"] == run.info.run_name == step
        assert run.data.tags["mlrecipes.step"] == step
        assert run.data.tags["mlrecipes.kind"] == "step"
        assert run.data.tags["mlflow.source.git.commit"] == COMMIT
    assert f.data.params == {"window": "30", "opt.lr": "0.1", "opt.tags": "[1, 2]"}
    assert f.data.metrics == {"rows": 10.0, "auc": 0.87}
    assert artifact_files(store, miss) == {"featurize.log"}
    assert artifact_files(store, late) == set()  # an empty log is not uploaded
    assert (t.info.start_time, t.info.end_time) == (1_700_000_000_000, 1_700_000_002_500)


def test_artifacts_live_next_to_the_database_not_in_cwd(
    tracker: MlflowTracker, store: str, tmp_path: Path
) -> None:
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    tracker.finish_pipeline(parent, "FINISHED")
    artifact_uri = client(store).get_run(parent).info.artifact_uri
    location = Path(url2pathname(urlparse(artifact_uri).path))
    assert location.is_absolute()
    assert location.is_relative_to(tmp_path / "ws" / ".mlrecipes" / "mlartifacts")
    assert (location / "mlrecipes" / "manifest" / "workspace.yaml").is_file()
    assert not (Path.cwd() / "mlruns").exists()


def test_explicit_artifact_root(store: str, tmp_path: Path) -> None:
    tracker = MlflowTracker(store, artifact_root=tmp_path / "elsewhere")
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    tracker.close()
    assert list((tmp_path / "elsewhere").glob("*/artifacts/mlrecipes/lock/workspace.lock"))
    assert client(store).get_run(parent).info.status == "KILLED"


def test_failed_and_killed_steps_and_no_run_left_running(
    tracker: MlflowTracker, store: str, tmp_path: Path
) -> None:
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    failed = tracker.create_step_run(parent, step_info("a"))
    killed = tracker.create_step_run(parent, step_info("b"))
    never_started = tracker.create_step_run(parent, step_info("c"))
    tracker.finish_step(failed, StepOutcome("FAILED", tags={"mlrecipes.error": "ValueError"}))
    tracker.finish_step(killed, StepOutcome("KILLED"))
    tracker.finish_pipeline(parent, "FAILED")
    c = client(store)
    statuses = {run_id: c.get_run(run_id).info.status for run_id in (failed, killed, parent)}
    assert statuses == {failed: "FAILED", killed: "KILLED", parent: "FAILED"}
    assert c.get_run(never_started).info.status == "KILLED"
    assert c.get_run(failed).data.tags["mlrecipes.error"] == "ValueError"
    experiment = c.get_run(parent).info.experiment_id
    assert c.search_runs([experiment], "attributes.status = 'RUNNING'") == []
    for run_id in (failed, killed, never_started, parent):
        assert c.get_run(run_id).info.end_time is not None


def test_close_ends_open_runs_as_killed(tracker: MlflowTracker, store: str, tmp_path: Path) -> None:
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    step = tracker.create_step_run(parent, step_info("a"))
    tracker.close()
    c = client(store)
    assert c.get_run(step).info.status == "KILLED"
    assert c.get_run(parent).info.status == "KILLED"


def test_find_finished_pipeline(tracker: MlflowTracker, tmp_path: Path) -> None:
    assert tracker.find_finished_pipeline("no-such-experiment", "fp") is None
    failed = tracker.start_pipeline(pipeline_info(tmp_path / "a", fingerprints="set-1"))
    tracker.finish_pipeline(failed, "FAILED")
    assert tracker.find_finished_pipeline("churn", "set-1") is None
    first = tracker.start_pipeline(pipeline_info(tmp_path / "b", fingerprints="set-1"))
    tracker.finish_pipeline(first, "FINISHED")
    other = tracker.start_pipeline(pipeline_info(tmp_path / "c", fingerprints="set-2"))
    tracker.finish_pipeline(other, "FINISHED")
    assert tracker.find_finished_pipeline("churn", "set-1") == first
    assert tracker.find_finished_pipeline("churn", "set-2") == other
    assert tracker.find_finished_pipeline("other-experiment", "set-1") is None


def test_long_and_many_params_are_logged_within_limits(
    tracker: MlflowTracker, store: str, tmp_path: Path
) -> None:
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    params = {f"p{i}": i for i in range(150)} | {"blob": "x" * 7000}
    run_id = tracker.create_step_run(parent, step_info("big", params=params))
    tracker.finish_step(run_id, StepOutcome("FINISHED", metrics={f"m{i}": i for i in range(900)}))
    data = client(store).get_run(run_id).data
    assert len(data.params) == 151 and data.params["p149"] == "149"
    assert len(data.params["blob"]) == 6000 and data.params["blob"].endswith("[truncated]")
    assert len(data.metrics) == 900
    tracker.finish_pipeline(parent, "FINISHED")


def test_step_env_names_the_run_and_experiment_id(
    tracker: MlflowTracker, store: str, tmp_path: Path
) -> None:
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    run_id = tracker.create_step_run(parent, step_info("a"))
    env = tracker.step_env(run_id)
    assert env == {
        "MLFLOW_TRACKING_URI": store,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_ID": client(store).get_run(run_id).info.experiment_id,
    }
    tracker.close()


def test_second_tracker_reuses_the_experiment(store: str, tmp_path: Path) -> None:
    first, second = MlflowTracker(store), MlflowTracker(store)
    a = first.start_pipeline(pipeline_info(tmp_path / "a"))
    b = second.start_pipeline(pipeline_info(tmp_path / "b"))
    c = client(store)
    assert c.get_run(a).info.experiment_id == c.get_run(b).info.experiment_id
    first.close()
    second.close()


def test_deleted_experiment_is_a_tracking_error(store: str, tmp_path: Path) -> None:
    c = client(store)
    c.delete_experiment(c.create_experiment("gone"))
    with pytest.raises(TrackingError, match="deleted") as caught:
        MlflowTracker(store).start_pipeline(pipeline_info(tmp_path / "a", experiment="gone"))
    assert "restore" in (caught.value.hint or "")


def test_missing_artifact_file_fails_the_parent_run(
    tracker: MlflowTracker, store: str, tmp_path: Path
) -> None:
    info = pipeline_info(tmp_path / "files")
    info.artifacts["lock"].unlink()
    with pytest.raises(TrackingError):
        tracker.start_pipeline(info)
    c = client(store)
    experiment = c.get_experiment_by_name("churn").experiment_id
    runs = c.search_runs([experiment])
    assert [run.info.status for run in runs] == ["FAILED"]


def test_background_tracker_builds_the_client_on_its_thread(store: str, tmp_path: Path) -> None:
    threads: list[str] = []

    def make() -> Tracker:
        threads.append(threading.current_thread().name)
        return MlflowTracker(store)

    with BackgroundTracker(make) as tracker:
        parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
        steps = tracker.prefetch_step_runs(parent, [step_info("a"), step_info("b")])
        assert tracker.step_env(steps["a"])["MLFLOW_RUN_ID"] == tracker.run_id(steps["a"])
        tracker.finish_step(steps["a"], StepOutcome("FINISHED", metrics={"x": 1.0}))
        tracker.finish_pipeline(parent, "FAILED")
    assert threads == ["mlrecipes-tracker"]
    c = client(store)
    assert c.get_run(tracker.run_id(steps["a"])).info.status == "FINISHED"
    assert c.get_run(tracker.run_id(steps["b"])).info.status == "KILLED"
    assert c.get_run(tracker.run_id(parent)).info.status == "FAILED"


def test_experiment_created_by_someone_else_meanwhile_is_taken(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = MlflowTracker(store)
    real_get = tracker._client.get_experiment_by_name
    answers = iter([None])  # the first look-up misses, as if the other process was faster

    def racing_get(name: str) -> Any:
        missed = next(answers, "real")
        if missed is None:
            client(store).create_experiment(name)  # the other process wins the race
            return None
        return real_get(name)

    monkeypatch.setattr(tracker._client, "get_experiment_by_name", racing_get)
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    c = client(store)
    assert c.get_run(parent).info.experiment_id == c.get_experiment_by_name("churn").experiment_id
    tracker.close()


def test_unusable_sqlite_location_is_a_tracking_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(TrackingError) as caught:
        MlflowTracker(f"sqlite:///{blocker / 'mlflow.db'}")
    assert "writable" in (caught.value.hint or "")


def test_a_run_cannot_end_as_running(tracker: MlflowTracker, tmp_path: Path) -> None:
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    with pytest.raises(ValueError, match="RUNNING"):
        tracker.finish_pipeline(parent, "RUNNING")  # type: ignore[arg-type]
    tracker.close()
