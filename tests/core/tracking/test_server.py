"""Against a real `mlflow server` over http, and against a port where none listens."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.core.tracking._build import pipeline_info, step_info
from tests.helpers.mlflow_server import MlflowServer, free_port, mlflow_server_fixture

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking import (
    BackgroundTracker,
    MlflowTracker,
    StepOutcome,
    Tracker,
    download_pipeline_artifacts,
    list_pipeline_runs,
)

mlflow_server = mlflow_server_fixture()


def test_server_down_fails_fast_with_a_hint() -> None:
    import mlflow.tracking  # noqa: F401 - imported once per process anyway: time the probe alone

    uri = f"http://user:s3cret@127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingError) as caught:
        MlflowTracker(uri)
    assert time.monotonic() - started < 3
    error = caught.value
    assert "mlflow server" in (error.hint or "")
    assert "127.0.0.1" in error.uri
    assert "s3cret" not in f"{error.message} {error.hint} {error.uri}"
    started = time.monotonic()
    with pytest.raises(TrackingError):
        list_pipeline_runs(uri, "churn")
    assert time.monotonic() - started < 3


@pytest.mark.slow
def test_pipeline_over_http_reads_back(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    uri = mlflow_server.url

    def make() -> Tracker:
        return MlflowTracker(uri)

    with BackgroundTracker(make) as tracker:
        parent = tracker.start_pipeline(pipeline_info(tmp_path / "files", overrides={"seed": 3}))
        steps = tracker.prefetch_step_runs(parent, [step_info("featurize"), step_info("train")])
        env = tracker.step_env(steps["train"])
        log = tmp_path / "train.log"
        log.write_text("epoch 1\n")
        tracker.finish_step(steps["featurize"], StepOutcome("FINISHED", metrics={"rows": 3}))
        tracker.finish_step(steps["train"], StepOutcome("FINISHED", {"auc": 0.9}, log_path=log))
        tracker.finish_pipeline(parent, "FINISHED")
    parent_id = tracker.run_id(parent)
    assert env["MLFLOW_TRACKING_URI"] == uri
    assert env["MLFLOW_RUN_ID"] == tracker.run_id(steps["train"])

    [row] = [row for row in list_pipeline_runs(uri, "churn") if row.run_id == parent_id]
    assert row.status == "FINISHED"
    assert row.overrides == {"seed": 3}
    assert row.step_metrics == {"featurize": {"rows": 3.0}, "train": {"auc": 0.9}}

    files = download_pipeline_artifacts(uri, parent_id, tmp_path / "got")
    assert json.loads(files["params"].read_text())["overrides"] == {"seed": 3}
    assert files["manifest"].read_text().startswith("version: 1")
    # Served artifacts: they live under the server's destination, not the client's folders.
    served = list((mlflow_server.root / "artifacts").rglob("train.log"))
    assert len(served) == 1
