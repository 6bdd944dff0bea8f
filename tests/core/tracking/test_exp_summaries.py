"""`exp show` answers from the workspace's run summaries and asks MLflow only for the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.core.tracking._build import pipeline_info, step_info
from tests.helpers.workspaces import write_manifest

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import Manifest, load_manifest
from mlrecipes.core.tracking import (
    MlflowTracker,
    PipelineRunRow,
    StepOutcome,
    experiments,
    list_pipeline_runs,
)
from mlrecipes.core.tracking.base import TAG_STUDY, PipelineSummary
from mlrecipes.core.tracking.sqlite_listing import list_pipeline_stamps


def log_pipeline(store: str, folder: Path, lr: float, status: str = "FINISHED") -> str:
    """One pipeline run with one step and its metric copied onto the parent; its id."""
    tracker = MlflowTracker(store)
    parent = tracker.start_pipeline(pipeline_info(folder, overrides={"train.lr": lr}))
    child = tracker.create_step_run(parent, step_info("train"))
    tracker.finish_step(child, StepOutcome("FINISHED", metrics={"auc": lr * 2}))
    summary = PipelineSummary(
        tags={"mlrecipes.steps.train.cache": "miss"}, metrics={"train.auc": lr * 2}
    )
    tracker.finish_pipeline(parent, status, summary)  # type: ignore[arg-type]
    tracker.close()
    return parent


@pytest.fixture
def manifest(store: str) -> Manifest:
    text = f"version: 1\nname: churn\nmlflow: {{tracking_uri: '{store}'}}\n"
    return load_manifest(write_manifest(Path(store.removeprefix("sqlite:///")).parents[1], text))


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The filters of every search that reached MLflow."""
    calls: list[str | None] = []

    def spy(*args: object, **kwargs: object) -> list[PipelineRunRow]:
        calls.append(kwargs.get("filter"))  # type: ignore[arg-type]
        return list_pipeline_runs(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(experiments, "list_pipeline_runs", spy)
    yield calls


def _runs(manifest: Manifest, **kwargs: object) -> list[PipelineRunRow]:
    runs_dir = manifest.root / ".mlrecipes" / "runs"
    return experiments.pipeline_runs(manifest, runs_dir=runs_dir, **kwargs)  # type: ignore[arg-type]


def test_second_show_asks_mlflow_nothing(
    manifest: Manifest, store: str, tmp_path: Path, asked: list[str | None]
) -> None:
    ids = [log_pipeline(store, tmp_path / str(i), lr) for i, lr in enumerate((0.1, 0.3, 0.2))]
    first = _runs(manifest)
    assert [row.run_id for row in first] == ids[::-1]
    assert first == list_pipeline_runs(store, "churn")  # the same rows MLflow gives
    assert len(asked) == 1
    again = _runs(manifest)
    assert again == first
    assert len(asked) == 1  # nothing new: MLflow was not asked
    by_auc = _runs(manifest, sort="train.auc")
    assert [row.metrics["train.auc"] for row in by_auc] == [0.6, 0.4, 0.2]
    by_param = _runs(manifest, sort="params.train.lr", ascending=True)
    assert [row.params["train.lr"] for row in by_param] == ["0.1", "0.2", "0.3"]
    assert [row.run_id for row in _runs(manifest, limit=2)] == ids[:0:-1]
    assert len(asked) == 1
    with pytest.raises(UserError, match="no pipeline run has a metric"):
        _runs(manifest, sort="train.acu")


def test_only_new_and_changed_runs_are_read_from_mlflow(
    manifest: Manifest, store: str, tmp_path: Path, asked: list[str | None]
) -> None:
    old = log_pipeline(store, tmp_path / "a", 0.1)
    gone = log_pipeline(store, tmp_path / "b", 0.2)
    _runs(manifest)
    new = log_pipeline(store, tmp_path / "c", 0.3)  # e.g. by a `reproduce` in another folder
    from mlflow import MlflowClient

    client = MlflowClient(store)
    client.set_tag(old, "note", "edited in the UI")
    client.delete_run(gone)
    asked.clear()
    rows = _runs(manifest)
    assert [row.run_id for row in rows] == [new, old]
    assert rows[1].tags["note"] == "edited in the UI"
    [search] = asked
    assert search is not None and new in search and old in search and gone not in search


def test_filter_and_running_runs_go_to_mlflow(
    manifest: Manifest, store: str, tmp_path: Path, asked: list[str | None]
) -> None:
    log_pipeline(store, tmp_path / "a", 0.1)
    tracker = MlflowTracker(store)
    running = tracker.start_pipeline(pipeline_info(tmp_path / "b", overrides={"train.lr": 9}))
    assert {row.run_id for row in _runs(manifest)} >= {running}
    assert {row.run_id for row in _runs(manifest)} >= {running}
    assert len(asked) == 2 and running in (asked[1] or "")  # a running run is never kept
    only = _runs(manifest, filter_="params.`train.lr` = '0.1'")
    assert [row.params["train.lr"] for row in only] == ["0.1"]
    assert asked[-1] == "params.`train.lr` = '0.1'"
    tracker.finish_pipeline(running, "KILLED")
    tracker.close()


def test_a_server_store_cannot_be_listed_without_mlflow(tmp_path: Path) -> None:
    assert list_pipeline_stamps("http://127.0.0.1:5000", "churn") is None
    assert list_pipeline_stamps(f"sqlite:///{tmp_path}/none.db", "churn") == []
    (tmp_path / "other.db").write_text("not a database")
    assert list_pipeline_stamps(f"sqlite:///{tmp_path}/other.db", "churn") is None


def test_study_keeps_the_runs_of_one_study(
    manifest: Manifest, store: str, tmp_path: Path, asked: list[str | None]
) -> None:
    ids = [log_pipeline(store, tmp_path / str(i), lr) for i, lr in enumerate((0.1, 0.2, 0.3))]
    from mlflow import MlflowClient

    for run_id in ids[:2]:
        MlflowClient(store).set_tag(run_id, TAG_STUDY, "lr-search")
    MlflowClient(store).set_tag(ids[2], TAG_STUDY, "other")
    _runs(manifest)  # every run is now summarized
    asked.clear()
    assert [row.run_id for row in _runs(manifest, study="lr-search", limit=1)] == [ids[1]]
    assert asked == []  # from the summaries
    by_mlflow = _runs(manifest, study="lr-search", filter_="attributes.status = 'FINISHED'")
    assert [row.run_id for row in by_mlflow] == ids[1::-1]
    assert asked[-1] == f"tags.`{TAG_STUDY}` = 'lr-search' AND attributes.status = 'FINISHED'"
    assert _runs(manifest, study="nothing") == []


def test_cache_hits_recorded_on_the_parent_show_their_metrics(
    manifest: Manifest, store: str, tmp_path: Path
) -> None:
    """A step taken from the store has no child run: its metrics come from the parent."""
    tracker = MlflowTracker(store)
    parent = tracker.start_pipeline(pipeline_info(tmp_path, overrides={"train.lr": 0.5}))
    child = tracker.create_step_run(parent, step_info("train"))
    tracker.finish_step(child, StepOutcome("FINISHED", metrics={"auc": 0.9}))
    tags = {f"mlrecipes.steps.{s}.cache": c for s, c in (("featurize", "hit"), ("train", "miss"))}
    metrics = {"featurize.rows": 10.0, "featurize.mean.x": 1.5, "train.auc": 0.9}
    tracker.finish_pipeline(parent, "FINISHED", PipelineSummary(tags=tags, metrics=metrics))
    tracker.close()
    [row] = _runs(manifest)
    assert row.step_metrics == {"featurize": {"mean.x": 1.5, "rows": 10.0}, "train": {"auc": 0.9}}
    [again] = _runs(manifest)  # from the summary
    assert again == row
