"""Issue 25 item 10: the warm tracker's log never holds the tracking server's token."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.core.tracking._build import pipeline_info, step_info
from tests.helpers.mlflow_server import MlflowServer, free_port, mlflow_server_fixture

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking import StepOutcome, warm
from mlrecipes.core.tracking.log_redaction import RedactingStream
from mlrecipes.core.tracking.outbox_tracker import OutboxTracker, WarmCourier

mlflow_server = mlflow_server_fixture()
TOKEN = "Tk9/zz#q?x"  # noqa: S105 - the secret the log must not show, delimiters and all
ENCODED = "Tk9%2Fzz%23q%3Fx"


def test_a_line_cut_between_writes_is_redacted_whole() -> None:
    target = io.StringIO()
    stream = RedactingStream(target)
    stream.add_url_credentials(f"http://alice:{ENCODED}@h:5000")
    stream.write("View run at: http://alice:")
    stream.write(f"{ENCODED}@h:5000/#/runs/1\nnext {TOKEN} ")
    assert target.getvalue() == "View run at: http://h:5000/#/runs/1\n"
    stream.close()
    assert TOKEN not in target.getvalue() and "next *** " in target.getvalue()


@pytest.fixture
def warm_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkspacePaths]:
    """A workspace folder whose warm tracker is stopped at the end."""
    monkeypatch.setenv(warm.IDLE_ENV, "30")
    paths = WorkspacePaths(tmp_path / "ws")
    paths.state.mkdir(parents=True)
    yield paths
    warm.stop(paths.tracker_socket)


def _tracker(uri: str, paths: WorkspacePaths) -> OutboxTracker:
    courier = WarmCourier(paths, uri, idle=30)  # the warm tracker process writes the log
    return OutboxTracker(uri, paths, courier, wait=True)


@pytest.mark.slow
def test_tracker_log_holds_no_token(
    mlflow_server: MlflowServer, tmp_path: Path, warm_paths: WorkspacePaths
) -> None:
    uri = mlflow_server.url.replace("http://", f"http://alice:{ENCODED}@")
    tracker = _tracker(uri, warm_paths)
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    step = tracker.create_step_run(parent, step_info("train"))
    step_output = _mlflow_in_a_step(tracker.step_env(step))
    tracker.finish_step(step, StepOutcome("FINISHED", metrics={"auc": 0.9}))
    tracker.finish_pipeline(parent, "FINISHED")
    tracker.close()  # returns once MLflow holds it all
    warm.stop(warm_paths.tracker_socket)  # its log is complete once it has ended
    text = warm_paths.tracker_log.read_text()
    assert "View run" in text and mlflow_server.url.removeprefix("http://") in text
    assert ENCODED not in text and TOKEN not in text and "alice" not in text
    # A step that uses MLflow itself prints MLflow's line into its own log: no token there.
    assert "View run" in step_output and mlflow_server.url in step_output
    assert ENCODED not in step_output and TOKEN not in step_output and "alice" not in step_output


def _mlflow_in_a_step(env: dict[str, str]) -> str:
    """What a step's MLflow prints when it ends its run (the step's log), given ``env``."""
    code = "import os, mlflow; mlflow.MlflowClient().set_terminated(os.environ['MLFLOW_RUN_ID'])"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout + done.stderr


def test_tracker_log_holds_no_token_when_the_server_is_down(
    tmp_path: Path, warm_paths: WorkspacePaths
) -> None:
    uri = f"http://alice:{ENCODED}@127.0.0.1:{free_port()}"
    tracker = _tracker(uri, warm_paths)
    tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    with pytest.raises(TrackingError) as caught:
        tracker.close()
    warm.stop(warm_paths.tracker_socket)
    text = warm_paths.tracker_log.read_text()
    assert "127.0.0.1" in text and "Traceback" in text  # MLflow's error, quoted in full
    for shown in (text, caught.value.message, caught.value.uri or ""):
        assert ENCODED not in shown and TOKEN not in shown and "alice" not in shown
