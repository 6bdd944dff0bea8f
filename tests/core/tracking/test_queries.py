"""Reading pipeline runs back: rows for `exp show`, artifacts for `reproduce`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.core.tracking._build import COMMIT, pipeline_info, step_info

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking import (
    MlflowTracker,
    StepOutcome,
    download_pipeline_artifacts,
    get_run_tags,
    list_pipeline_runs,
    queries,
)


def log_sweep(store: str, folder: Path) -> list[str]:
    """Three pipelines (lr 0.1, 0.01, 0.001), each with two steps; parent ids, oldest first."""
    tracker = MlflowTracker(store)
    parents = []
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        info = pipeline_info(folder / str(i), overrides={"train.lr": lr}, dirty=(i == 2))
        parent = tracker.start_pipeline(info)
        for step, metrics in (("featurize", {"rows": 10.0}), ("train", {"auc": 0.5 + i / 10})):
            run_id = tracker.create_step_run(parent, step_info(step))
            tracker.finish_step(run_id, StepOutcome("FINISHED", metrics=metrics))
        tracker.finish_pipeline(parent, "FINISHED" if i != 1 else "FAILED")
        parents.append(parent)
    tracker.close()
    return parents


def test_rows_have_overrides_step_metrics_and_short_commits(store: str, tmp_path: Path) -> None:
    parents = log_sweep(store, tmp_path)
    rows = list_pipeline_runs(store, "churn")
    assert [row.run_id for row in rows] == parents[::-1]  # newest first
    newest = rows[0]
    assert newest.overrides == {"train.lr": 0.001}
    assert newest.step_metrics == {"featurize": {"rows": 10.0}, "train": {"auc": 0.7}}
    assert newest.commits == {"features": COMMIT[:7]}
    assert newest.dirty == ("features",)
    assert newest.status == "FINISHED" and newest.end_time is not None
    assert newest.start_time <= newest.end_time
    assert [row.status for row in rows] == ["FINISHED", "FAILED", "FINISHED"]
    assert [row.step_metrics["train"]["auc"] for row in rows] == [0.7, 0.6, 0.5]
    assert rows[1].dirty == ()


def test_filter_order_and_paging(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parents = log_sweep(store, tmp_path)
    only = list_pipeline_runs(store, "churn", filter="params.`train.lr` = '0.01'")
    assert [row.run_id for row in only] == [parents[1]]
    assert only[0].step_metrics["train"] == {"auc": 0.6}
    oldest_first = list_pipeline_runs(store, "churn", order_by=["attributes.start_time ASC"])
    assert [row.run_id for row in oldest_first] == parents
    # One parent per page: each page's own search for children must still match them up.
    monkeypatch.setattr(queries, "PAGE_SIZE", 1)
    paged = list_pipeline_runs(store, "churn")
    assert [row.run_id for row in paged] == parents[::-1]
    assert [row.step_metrics["train"]["auc"] for row in paged] == [0.7, 0.6, 0.5]
    assert len(list_pipeline_runs(store, "churn", max_results=2)) == 2
    with pytest.raises(TrackingError, match="rejected") as bad:
        list_pipeline_runs(store, "churn", filter="params.lr ~ 3")
    assert "search syntax" in (bad.value.hint or "")


def test_missing_experiment_has_no_rows(store: str) -> None:
    assert list_pipeline_runs(store, "nothing-here") == []


def test_download_pipeline_artifacts(store: str, tmp_path: Path) -> None:
    parents = log_sweep(store, tmp_path / "logged")
    files = download_pipeline_artifacts(store, parents[1], tmp_path / "got")
    assert set(files) == {"manifest", "lock", "params"}
    assert files["manifest"].name == "workspace.yaml"
    assert files["manifest"].is_relative_to(tmp_path / "got")
    assert files["lock"].read_text() == (tmp_path / "logged" / "1" / "workspace.lock").read_text()
    assert json.loads(files["params"].read_text())["overrides"] == {"train.lr": 0.01}


def test_get_run_tags_and_errors_for_wrong_ids(store: str, tmp_path: Path) -> None:
    tracker = MlflowTracker(store)
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    step = tracker.create_step_run(parent, step_info("train"))
    tracker.close()
    assert get_run_tags(store, step)["mlflow.parentRunId"] == parent
    assert get_run_tags(store, parent)["mlrecipes.kind"] == "pipeline"
    with pytest.raises(TrackingError, match="not of a pipeline") as caught:
        download_pipeline_artifacts(store, step, tmp_path / "x")
    assert parent in (caught.value.hint or "")
    with pytest.raises(TrackingError, match="no MLflow run") as missing:
        get_run_tags(store, "0" * 32)
    assert "exp show" in (missing.value.hint or "")
