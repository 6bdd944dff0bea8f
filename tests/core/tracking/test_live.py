"""Runs of a dead process are found from the workspace's live records and ended KILLED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.core.tracking._build import pipeline_info, step_info

from mlrecipes.core.tracking.live import LiveRuns, dead_records, end_dead_runs, process_start_time
from mlrecipes.core.tracking.mlflow_tracker import MlflowTracker


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_record_follows_open_runs_and_goes_when_none_is_left(store: str, tmp_path: Path) -> None:
    live = LiveRuns.for_process(tmp_path / "live", store, os.getpid())
    tracker = MlflowTracker(store, live=live)
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    child = tracker.create_step_run(parent, step_info("a"))
    assert live.path.exists()
    assert dead_records(tmp_path / "live", store) == []  # this process is alive
    tracker.finish_pipeline(parent, "FINISHED")
    assert not live.path.exists()
    assert child != parent


def test_runs_of_a_dead_process_end_killed_with_a_note(store: str, tmp_path: Path) -> None:
    pid = _dead_pid()
    live = LiveRuns(tmp_path / "live", store, pid, "12345")
    tracker = MlflowTracker(store, live=live)
    parent = tracker.start_pipeline(pipeline_info(tmp_path / "files"))
    child = tracker.create_step_run(parent, step_info("a"))
    # the process "dies" here: nothing ends the runs; its record stays
    other = LiveRuns(tmp_path / "live", "sqlite:///elsewhere.db", _dead_pid(), "1")
    other.add("not-ours")
    client: Any = tracker.client
    ended = end_dead_runs(client, tmp_path / "live", store)
    assert sorted(ended) == sorted([parent, child])
    for run_id in (parent, child):
        run = client.get_run(run_id)
        assert run.info.status == "KILLED"
        assert f"pid {pid}" in run.data.tags["mlrecipes.note"]
    assert not live.path.exists() and other.path.exists()  # another store's record stays


def test_a_reused_pid_counts_as_dead(tmp_path: Path) -> None:
    now = process_start_time(os.getpid())
    assert now  # Linux: from /proc
    live = LiveRuns(tmp_path, "sqlite:///x.db", os.getpid(), "not-" + now)
    live.add("r1")
    assert [pid for _, pid, _ in dead_records(tmp_path, "sqlite:///x.db")] == [os.getpid()]
    assert process_start_time(_dead_pid()) is None
