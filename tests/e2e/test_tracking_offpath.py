"""Tracking never sits between the user and the first result, and never leaves runs open.

Real git repos and uv environments; the tracker is either the real one (the
outbox, delivered to a sqlite store) or a recording one whose start is held back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.waiting import wait_for
from tests.helpers.workspaces import CLI, cli, executions, git, make_workspace

from mlrecipes.core import Workspace
from mlrecipes.core.events import Event, StepFinished
from mlrecipes.core.run.compose import RunServices, default_services
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.run.pipeline import run_pipeline
from mlrecipes.core.tracking import BackgroundTracker, RecordingTracker, Tracker
from mlrecipes.core.tracking.outbox import CreateStep, read_events, segments

pytestmark = pytest.mark.slow


def _client(ws: Workspace) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{ws.paths.mlflow_db}")


def _runs(ws: Workspace) -> list[Any]:
    client = _client(ws)
    exp = client.get_experiment_by_name("e2e")
    return list(client.search_runs([exp.experiment_id])) if exp else []


def test_steps_finish_while_the_tracker_is_still_starting(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    features = tmp_path / "upstream" / "features"
    git(features, "rm", "-rq", "mlflow")  # no step can log itself: none waits for a run
    git(features, "commit", "-qm", "no mlflow")
    ws = Workspace.load(manifest)
    ws.sync()
    step_done = threading.Event()
    inner = RecordingTracker()
    released_by_step: list[bool] = []

    def slow_start() -> Tracker:  # a tracker that is not there until a step has finished
        released_by_step.append(step_done.wait(timeout=120))
        return inner

    def on_event(event: Event) -> None:
        if isinstance(event, StepFinished) and event.status == "ok":
            step_done.set()

    services = default_services(ws.manifest, ws.paths, RunOptions())
    result = run_pipeline(
        ws.manifest,
        ws.paths,
        ws.sync(),
        (),
        RunOptions(jobs=1),
        services=RunServices(
            lambda _uri: BackgroundTracker(slow_start), services.executor, services.executor_kind
        ),
        on_event=on_event,
    )
    assert released_by_step == [True]
    assert sorted(executions(ws.manifest.path)) == ["fit", "make", "score", "side"]
    steps = {r.name: r for r in inner.runs.values() if r.kind == "step"}
    assert sorted(steps) == ["fit", "make", "score", "side"]
    assert {r.status for r in inner.runs.values()} == {"FINISHED"}
    # logged after the fact with the times the steps really ran, in order
    fit, score = steps["fit"], steps["score"]
    assert fit.started_at and fit.finished_at and score.started_at
    assert fit.started_at <= fit.finished_at <= score.started_at
    assert result.run_ids == (next(r.run_id for r in inner.runs.values() if r.kind == "pipeline"),)


def test_a_step_that_can_log_to_mlflow_gets_its_own_run_first(tmp_path: Path) -> None:
    ws = Workspace.load(make_workspace(tmp_path))
    result = ws.run()
    runs = {r.data.tags.get("mlrecipes.step"): r for r in _runs(ws)}
    # `side` can import mlflow: it ran with MLFLOW_RUN_ID of its own child run
    note = (ws.paths.root / "outputs" / "note.txt").read_text()
    assert note == runs["side"].info.run_id
    assert runs["side"].data.tags["mlflow.parentRunId"] == result.run_ids[0]


def test_interrupt_while_logging_leaves_nothing_running(tmp_path: Path) -> None:
    ws = Workspace.load(make_workspace(tmp_path))
    ws.sync()

    class InterruptedWhileLogging(RecordingTracker):
        def finish_step(self, run_id: str, outcome: Any) -> None:
            if self.runs[run_id].name == "score":  # Ctrl-C arrives while the last runs log
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)
            super().finish_step(run_id, outcome)

    inner = InterruptedWhileLogging()
    services = default_services(ws.manifest, ws.paths, RunOptions())
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(
            ws.manifest,
            ws.paths,
            ws.sync(),
            (),
            RunOptions(jobs=1),
            services=RunServices(
                lambda _uri: BackgroundTracker(inner), services.executor, services.executor_kind
            ),
        )
    assert inner.closed
    assert inner.runs and "RUNNING" not in {r.status for r in inner.runs.values()}


def test_runs_of_a_killed_command_are_ended_by_the_next_one(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    ws.sync()
    proc = subprocess.Popen(
        [*CLI, "run", "-f", str(manifest), "-S", "+fit.sleep=120"],
        cwd=manifest.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the kill reaches its steps, not this test
    )
    wait_for(lambda: "fit" in executions(manifest) and _outbox_holds_run(ws, "fit"))
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI dies without a word
    proc.wait(timeout=60)

    Workspace.load(manifest).run()
    runs = _runs(ws)
    assert "RUNNING" not in {r.info.status for r in runs}
    killed = [r for r in runs if r.info.status == "KILLED"]
    assert {r.data.tags.get("mlrecipes.step") for r in killed} >= {None, "fit"}
    assert all("stopped before ending it" in r.data.tags["mlrecipes.note"] for r in killed)
    assert not segments(ws.paths.outbox)


def _outbox_holds_run(ws: Workspace, step: str) -> bool:
    return any(
        isinstance(e, CreateStep) and e.info.step == step
        for segment in segments(ws.paths.outbox)
        for e in read_events(segment / "events")
    )


def test_deleted_tracking_store_is_not_up_to_date(tmp_path: Path) -> None:
    ws = Workspace.load(make_workspace(tmp_path))
    # Each command in a process of its own, as a user's are: a process that opened the
    # store keeps MLflow's engine on the deleted file.
    first = cli("run", "-f", str(ws.manifest.path), cwd=ws.paths.root)
    assert first.returncode == 0, first.stderr
    ws.paths.mlflow_db.unlink()
    again = cli("run", "-f", str(ws.manifest.path), cwd=ws.paths.root)
    assert again.returncode == 0, again.stderr
    run_id = again.stdout.split("finished run ", 1)[1].split()[0]
    assert run_id not in first.stdout
    assert len(executions(ws.manifest.path)) == 4  # outputs stay cached; only logged again
    parent = _client(ws).get_run(run_id)
    assert parent.data.tags["mlrecipes.steps.fit.cache"] == "hit"
    assert parent.data.metrics["fit.loss"] == 10.0
    assert "up to date" in cli("run", "-f", str(ws.manifest.path), cwd=ws.paths.root).stdout
