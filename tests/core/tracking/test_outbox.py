"""The outbox's records and their delivery to a real MLflow sqlite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking.base import PipelineInfo, PipelineSummary, StepInfo, StepOutcome
from mlrecipes.core.tracking.deliver import Deliverer
from mlrecipes.core.tracking.outbox import (
    EVENTS,
    IDS,
    Close,
    Header,
    pending,
    read_events,
    segments,
    write_ack,
)
from mlrecipes.core.tracking.outbox_tracker import LocalCourier, OutboxTracker


def _paths(store: str) -> WorkspacePaths:
    return WorkspacePaths(Path(store.removeprefix("sqlite:///")).parent.parent)


def _log_pipeline(tracker: OutboxTracker, tmp: Path) -> tuple[str, str]:
    manifest = tmp / "workspace.yaml"
    manifest.write_text("version: 1\n")
    parent = tracker.start_pipeline(
        PipelineInfo("exp", "run", tags={"a": "1"}, artifacts={"manifest": manifest})
    )
    child = tracker.create_step_run(parent, StepInfo("fit", params={"lr": 0.1}))
    outcome = StepOutcome("FINISHED", metrics={"loss": 1.5}, finished_at=1.0e9)
    tracker.finish_step(child, outcome)
    tags = {"mlrecipes.steps.fit.source_run": child}  # a local id, MLflow's once delivered
    tracker.finish_pipeline(parent, "FINISHED", PipelineSummary(tags=tags, metrics={"x": 2.0}))
    return parent, child


def _runs(store: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("exp")
    return list(client.search_runs([exp.experiment_id])) if exp else []


def test_a_torn_last_record_is_ignored(tmp_path: Path, store: str) -> None:
    paths = _paths(store)
    tracker = OutboxTracker(store, paths, LocalCourier(paths.outbox, store), wait=False)
    _log_pipeline(tracker, tmp_path)
    events_file = tracker.segment / EVENTS
    whole = read_events(events_file)
    with events_file.open("ab") as fh:
        fh.write(b"\x40\x00\x00\x00\x01\x02")  # a record cut short by a kill
    assert read_events(events_file) == whole
    assert isinstance(whole[0], Header) and len(whole) == 5
    tracker.writer.release()  # the writer dies
    Deliverer(paths.outbox).deliver_all()
    assert {r.info.status for r in _runs(store)} == {"FINISHED"} and len(_runs(store)) == 2


def test_delivery_redone_after_a_kill_duplicates_nothing(tmp_path: Path, store: str) -> None:
    paths = _paths(store)
    tracker = OutboxTracker(store, paths, LocalCourier(paths.outbox, store), wait=False)
    parent, child = _log_pipeline(tracker, tmp_path)
    segment = tracker.segment
    first = Deliverer(paths.outbox)
    first.deliver(segment)  # its writer lives on: the segment stays
    # A kill right after MLflow created the child run: its id never reached the map,
    # and the ack still points at that record.
    ids = paths.outbox / IDS
    lines = ids.read_text().splitlines()
    ids.write_text("".join(f"{line}\n" for line in lines if not line.startswith(child)))
    write_ack(segment, 2)
    tracker.writer.close()
    Deliverer(paths.outbox).deliver_all()

    runs = _runs(store)
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    by_step = {r.data.tags.get("mlrecipes.step"): r for r in runs}
    fit, pipeline = by_step["fit"], by_step[None]
    assert len(fit.data.metrics) == 1
    from mlflow import MlflowClient

    history = MlflowClient(store).get_metric_history(fit.info.run_id, "loss")
    assert len(history) == 1  # logged twice, one row: the event's own time
    assert fit.data.params == {"lr": "0.1"}
    assert pipeline.data.tags["mlrecipes.steps.fit.source_run"] == fit.info.run_id
    assert (pipeline.info.run_id, fit.info.run_id) == (
        first.run_id(parent),
        Deliverer(paths.outbox).run_id(child),
    )
    assert not segments(paths.outbox) and pending(paths.outbox).runs == 0


@pytest.mark.parametrize("how", ["killed", "interrupted"])
def test_runs_a_writer_left_open_end_killed(tmp_path: Path, store: str, how: str) -> None:
    paths = _paths(store)
    tracker = OutboxTracker(store, paths, LocalCourier(paths.outbox, store), wait=False)
    parent = tracker.start_pipeline(PipelineInfo("exp", "run"))
    tracker.create_step_run(parent, StepInfo("fit"))
    assert pending(paths.outbox).runs == 2
    if how == "killed":
        tracker.writer.release()  # kill -9: no end events, no Close
    else:
        tracker.writer.close()  # Ctrl-C dropped the end events, then the command closed
    last = read_events(tracker.segment / EVENTS)[-1]
    assert isinstance(last, Close) == (how == "interrupted")
    Deliverer(paths.outbox).deliver_all()
    runs = _runs(store)
    assert {r.info.status for r in runs} == {"KILLED"} and len(runs) == 2
    assert all("stopped before ending it" in r.data.tags["mlrecipes.note"] for r in runs)
    assert not tracker.segment.exists()


def test_a_step_end_told_before_its_entry_waits_for_it(tmp_path: Path, store: str) -> None:
    """``kept``: applied once the entry exists; KILLED with a note if its writer died first."""
    paths = _paths(store)
    tracker = OutboxTracker(store, paths, LocalCourier(paths.outbox, store), wait=False)
    parent = tracker.start_pipeline(PipelineInfo("exp", "run"))
    kept, lost = tmp_path / "store" / "fit" / "fp1", tmp_path / "store" / "fit" / "fp2"
    for step, entry in (("fit", kept), ("eval", lost)):
        child = tracker.create_step_run(parent, StepInfo(step))
        tracker.finish_step(child, StepOutcome("FINISHED", metrics={"m": 1.0}, kept=entry))
    deliverer = Deliverer(paths.outbox)
    deliverer.deliver_all()  # the writer lives, the entry is not published yet: it waits
    assert {r.info.status for r in _runs(store)} == {"RUNNING"}
    kept.mkdir(parents=True)  # published
    tracker.writer.release()  # then kill -9, before the second entry was published
    deliverer.deliver_all()
    status = {r.data.tags["mlflow.runName"]: r for r in _runs(store)}
    assert status["fit"].info.status == "FINISHED" and status["fit"].data.metrics == {"m": 1.0}
    assert status["eval"].info.status == "KILLED"
    assert "before its result was kept" in status["eval"].data.tags["mlrecipes.note"]
    assert not tracker.segment.exists()


def test_a_warm_tracker_of_another_version_is_not_used(tmp_path: Path, store: str) -> None:
    import json
    import socketserver
    import threading

    from mlrecipes.core.tracking.outbox_tracker import WarmCourier

    paths = _paths(store)
    heard: list[str] = []

    class OldServer(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                heard.append(json.loads(line)["op"])
                self.wfile.write(b'{"ok": true, "version": "0:elsewhere"}\n')

    server = socketserver.ThreadingUnixStreamServer(str(paths.tracker_socket), OldServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        courier = WarmCourier(paths, store, idle=30)
        assert not courier.background  # this process does the work itself
        tracker = OutboxTracker(store, paths, courier, wait=False)
        _log_pipeline(tracker, tmp_path)
        tracker.close()
    finally:
        server.shutdown()
        server.server_close()
    assert heard == ["hello", "stop"]  # and asked it to go, for the next command
    assert {r.info.status for r in _runs(store)} == {"FINISHED"} and len(_runs(store)) == 2
