"""BackgroundTracker over the in-memory fake: order, priority, errors, threads."""

from __future__ import annotations

import threading

import pytest

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking import (
    BackgroundTracker,
    PipelineInfo,
    PipelineSummary,
    RecordingTracker,
    StepInfo,
    StepOutcome,
    Tracker,
)

INFO = PipelineInfo(experiment="exp", run_name="p")
OK = StepOutcome(status="FINISHED", metrics={"auc": 0.5})


class GatedTracker(RecordingTracker):
    """Blocks in ``finish_step`` of step ``gate_step`` until ``gate`` is set."""

    def __init__(self, gate_step: str) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.gate_step = gate_step

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        if self.runs[run_id].name == self.gate_step:
            self.entered.set()
            assert self.gate.wait(10)
        super().finish_step(run_id, outcome)


class FailingTracker(RecordingTracker):
    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        raise TrackingError(f"cannot finish {run_id}", uri="sqlite:///x")


def test_calls_keep_their_order_and_runs_end() -> None:
    inner = RecordingTracker()
    with BackgroundTracker(inner) as tracker:
        parent = tracker.start_pipeline(INFO)
        runs = tracker.prefetch_step_runs(parent, [StepInfo("a"), StepInfo("b")])
        assert list(runs) == ["a", "b"]
        tracker.finish_step(runs["a"], OK)
        tracker.finish_step(runs["b"], StepOutcome(status="FAILED"))
        tracker.finish_pipeline(parent, "FAILED", PipelineSummary(metrics={"total": 1.0}))
        tracker.flush()
        assert [name for name, _ in inner.calls] == [
            "start_pipeline",
            "create_step_run",
            "create_step_run",
            "finish_step",
            "finish_step",
            "finish_pipeline",
        ]
        a, b = tracker.run_id(runs["a"]), tracker.run_id(runs["b"])
    assert inner.closed
    assert inner.runs[a].status == "FINISHED" and inner.runs[a].metrics == {"auc": 0.5}
    assert inner.runs[b].status == "FAILED"
    assert inner.runs[tracker.run_id(parent)].status == "FAILED"


def test_run_creation_jumps_ahead_of_queued_finishing_calls() -> None:
    inner = GatedTracker(gate_step="a")
    tracker = BackgroundTracker(inner)
    parent = tracker.start_pipeline(INFO)
    runs = tracker.prefetch_step_runs(parent, [StepInfo("a"), StepInfo("b")])
    tracker.finish_step(runs["a"], OK)  # the worker blocks in here
    assert inner.entered.wait(10)
    tracker.finish_step(runs["b"], OK)
    late = tracker.create_step_run(parent, StepInfo("c"))
    inner.gate.set()
    assert tracker.run_id(late, timeout=10) == "run-4"
    tracker.close()
    # c's creation ran right after the call in progress, before b's queued finish.
    assert inner.calls == [
        ("start_pipeline", "run-1"),
        ("create_step_run", "run-2"),
        ("create_step_run", "run-3"),
        ("finish_step", "run-2"),
        ("create_step_run", "run-4"),
        ("finish_step", "run-3"),
    ]


def test_step_env_blocks_only_until_the_run_exists() -> None:
    inner = GatedTracker(gate_step="a")
    tracker = BackgroundTracker(inner)
    parent = tracker.start_pipeline(INFO)
    a = tracker.create_step_run(parent, StepInfo("a"))
    tracker.finish_step(a, OK)
    assert inner.entered.wait(10)
    b = tracker.create_step_run(parent, StepInfo("b"))
    assert not b.done()  # the worker is busy finishing a: asking for b's env must wait
    waiter = threading.Timer(0.2, inner.gate.set)
    waiter.start()
    assert tracker.step_env(b, timeout=10)["MLFLOW_RUN_ID"] == tracker.run_id(b) == "run-3"
    waiter.join()
    tracker.close()


def test_first_error_comes_back_from_flush_once() -> None:
    tracker = BackgroundTracker(FailingTracker())
    parent = tracker.start_pipeline(INFO)
    a = tracker.create_step_run(parent, StepInfo("a"))
    done = tracker.finish_step(a, OK)  # returns at once
    tracker.finish_step(a, OK)
    with pytest.raises(TrackingError, match="cannot finish run-2"):
        tracker.flush()
    assert isinstance(done.exception(), TrackingError)
    tracker.flush()  # already reported
    tracker.close()


def test_error_of_a_creation_reaches_calls_that_need_its_id() -> None:
    class NoSteps(RecordingTracker):
        def create_step_run(self, parent_id: str, info: StepInfo) -> str:
            raise TrackingError("no steps today", uri="sqlite:///x")

    inner = NoSteps()
    tracker = BackgroundTracker(inner)
    parent = tracker.start_pipeline(INFO)
    a = tracker.create_step_run(parent, StepInfo("a"))
    tracker.finish_step(a, OK)
    tracker.finish_pipeline(parent, "FAILED")
    with pytest.raises(TrackingError, match="no steps today"):
        tracker.run_id(a, timeout=10)
    with pytest.raises(TrackingError, match="no steps today"):
        tracker.close()
    assert inner.runs[tracker.run_id(parent)].status == "FAILED"


def test_factory_runs_on_the_worker_thread_and_its_error_reaches_everyone() -> None:
    seen: list[str] = []

    def make() -> Tracker:
        seen.append(threading.current_thread().name)
        return RecordingTracker()

    ok = BackgroundTracker(make)
    ok.wait_ready(10)
    ok.close()
    assert seen == ["mlrecipes-tracker"]

    def broken() -> Tracker:
        raise TrackingError("server down", uri="http://127.0.0.1:1")

    tracker = BackgroundTracker(broken)
    with pytest.raises(TrackingError, match="server down"):
        tracker.wait_ready(10)
    parent = tracker.start_pipeline(INFO)
    with pytest.raises(TrackingError, match="server down"):
        parent.result(10)
    with pytest.raises(TrackingError, match="server down"):
        tracker.close()


def test_closed_tracker_refuses_calls() -> None:
    tracker = BackgroundTracker(RecordingTracker())
    tracker.close()
    tracker.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        tracker.start_pipeline(INFO)


def test_abort_does_not_wait_for_a_tracker_still_starting() -> None:
    release = threading.Event()
    inner = RecordingTracker()

    def slow() -> Tracker:
        release.wait(30)
        return inner

    tracker = BackgroundTracker(slow)
    tracker.start_pipeline(INFO)
    tracker.abort()  # returns at once: the start is still held back
    assert tracker.closed and not inner.runs
    release.set()
    tracker._thread.join(30)
    assert inner.closed and not inner.runs  # closed once it existed; the queued call dropped
