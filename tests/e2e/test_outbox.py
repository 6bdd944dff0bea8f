"""The durable outbox and the warm tracker, end to end (issue 20).

Real git repos, uv environments, the real CLI in subprocesses, a real MLflow
sqlite store, and a real ``mlflow server`` on loopback for the server down/up
case. Every command that is killed runs in its own session (never the test's
group). Every warm tracker a test starts is stopped by the ``warm`` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.mlflow_server import free_port, start_mlflow_server, stop_mlflow_server
from tests.helpers.processes import live_pids
from tests.helpers.waiting import wait_for
from tests.helpers.workspaces import CLI, cli, executions, make_workspace

from mlrecipes.core import Workspace
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.store.local import MARKER, Store
from mlrecipes.core.tracking import warm
from mlrecipes.core.tracking.outbox import (
    EVENTS,
    CreateStep,
    StartPipeline,
    read_events,
    segments,
)

pytestmark = pytest.mark.slow

IDLE = "30"


@pytest.fixture
def warm_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[WorkspacePaths]]:
    """The warm tracker on, with a short idle; every one a test registers is stopped."""
    monkeypatch.setenv(warm.IDLE_ENV, IDLE)
    started: list[WorkspacePaths] = []
    yield started
    for paths in started:
        warm.stop(paths.tracker_socket)
        wait_for(_gone(paths), timeout=30)


def _gone(paths: WorkspacePaths) -> Callable[[], bool]:
    return lambda: not _tracker_pids(paths)


def _tracker_pids(paths: WorkspacePaths) -> list[int]:
    """Live warm tracker processes of this workspace."""

    def ours(cmdline: bytes) -> bool:
        args = cmdline.split(b"\0")
        return b"mlrecipes.core.tracking.warm" in args and os.fsencode(paths.root) in args

    return live_pids(ours)


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _runs(uri: str) -> list[Any]:
    client = _client(uri)
    exp = client.get_experiment_by_name("e2e")
    if exp is None:
        return []
    return list(client.search_runs([exp.experiment_id], max_results=5000))


def _local_ids(paths: WorkspacePaths) -> set[str]:
    """Local ids of every run the outbox holds a creation event for."""
    return {
        e.local_id
        for segment in segments(paths.outbox)
        for e in read_events(segment / EVENTS)
        if isinstance(e, StartPipeline | CreateStep)
    }


def _complete_entries(paths: WorkspacePaths) -> set[tuple[str, str]]:
    store = Store(paths.store)
    found = set()
    for step_dir in paths.store.iterdir():
        if step_dir.is_dir() and not step_dir.name.startswith("."):
            for entry in step_dir.iterdir():
                if len(entry.name) == 64 and store.is_complete(step_dir.name, entry.name):
                    found.add((step_dir.name, entry.name))
    return found


def _kill_when(manifest: Path, args: list[str], moment: Callable[[], bool]) -> None:
    proc = subprocess.Popen(
        [*CLI, "run", "-f", str(manifest), *args],
        cwd=manifest.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the kill reaches its steps, not this test
    )
    try:
        wait_for(lambda: moment() or proc.poll() is not None, timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def _records(paths: WorkspacePaths) -> int:
    return sum(len(read_events(s / EVENTS)) for s in segments(paths.outbox))


def _mapped(paths: WorkspacePaths) -> int:
    ids = paths.outbox / "ids"
    return len(ids.read_text().splitlines()) if ids.exists() else 0


def test_kill_9_at_any_moment_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    ws.sync()
    paths = ws.paths
    uri = f"sqlite:///{paths.mlflow_db}"
    mapped_before = _mapped(paths)
    records_before = _records(paths)
    moments: list[Callable[[], bool]] = [
        lambda: "fit" in executions(manifest),  # during a step
        lambda: _records(paths) >= records_before + 3,  # while events are written
        lambda: _records(paths) >= records_before + 6,
        lambda: _mapped(paths) > mapped_before,  # while they are delivered (uploads)
        lambda: _mapped(paths) > mapped_before + 3,
        lambda: False,  # not killed: the command ends by itself
    ]
    created: set[str] = set()
    for index, moment in enumerate(moments):
        mapped_before, records_before = _mapped(paths), _records(paths)
        _kill_when(manifest, ["-S", f"fit.lr={index + 1}", "-S", "+fit.sleep=0.5"], moment)
        created |= _local_ids(paths)
    assert created, "the kills left events to deliver"
    pushed = cli("runs", "push", "-f", str(manifest), cwd=manifest.parent)
    assert pushed.returncode == 0, pushed.stderr

    runs = _runs(uri)
    assert "RUNNING" not in {r.info.status for r in runs}
    by_local = Counter(r.data.tags.get("mlrecipes.local_id") for r in runs)
    assert all(n == 1 for n in by_local.values()), "a run was duplicated"
    assert created <= set(by_local), "a run the outbox held never reached MLflow"
    logged = {
        (r.data.tags.get("mlrecipes.step"), r.data.tags.get("mlrecipes.fingerprint")) for r in runs
    }
    assert _complete_entries(paths) <= logged, "a step that ran has no run in MLflow"
    assert not segments(paths.outbox)


def test_a_kill_just_after_a_step_is_stored_still_logs_its_end(
    tmp_path: Path, warm_on: list[WorkspacePaths]
) -> None:
    """kill -9 the moment a step's store entry appears: its run ends FINISHED with its
    metrics. The entry is a cache hit from then on, so no later command would log them
    (found by benchmarks/bench_kill.py: the run ended KILLED, its metrics lost)."""
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    ws.sync()
    warm_on.append(ws.paths)
    stored = ws.paths.store / "fit"
    proc = subprocess.Popen(
        [*CLI, "run", "-f", str(manifest)],
        cwd=manifest.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the kill reaches its steps, not this test
    )
    try:
        # a tight poll: the kill must land within milliseconds of the entry's rename
        while proc.poll() is None and not list(stored.glob(f"*/{MARKER}")):
            time.sleep(0.001)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the command ended before it could be killed"
    pushed = cli("runs", "push", "-f", str(manifest), cwd=manifest.parent)
    assert pushed.returncode == 0, pushed.stderr

    store = Store(ws.paths.store)
    (entry,) = [
        e for e in stored.iterdir()
        if not e.name.startswith(".") and store.is_complete("fit", e.name)
    ]  # fmt: skip
    fit_runs = [
        r for r in _runs(f"sqlite:///{ws.paths.mlflow_db}")
        if r.data.tags.get("mlrecipes.fingerprint") == entry.name
    ]  # fmt: skip
    assert [r.info.status for r in fit_runs] == ["FINISHED"]
    assert fit_runs[0].data.metrics["fit.loss"] == pytest.approx(2 * (1 + 2 + 3 + 4) * 0.5)


def test_runs_wait_while_the_server_is_down_and_go_once_it_is_up(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    manifest = make_workspace(tmp_path, extra=f"mlflow: {{tracking_uri: '{url}'}}\n")
    down = cli("run", "-f", str(manifest), cwd=manifest.parent)
    assert down.returncode == 0, down.stderr
    lines = [line for line in down.stderr.splitlines() if "waiting for MLflow" in line]
    assert len(lines) == 1 and "5 runs" in lines[0] and "127.0.0.1" in lines[0], down.stderr
    still = cli("run", "-f", str(manifest), cwd=manifest.parent)  # nothing to run: says it again
    assert [line for line in still.stderr.splitlines() if "waiting for MLflow" in line] == lines

    server = start_mlflow_server(tmp_path / "server", port=port)
    try:
        pushed = cli("runs", "push", "-f", str(manifest), cwd=manifest.parent)
        assert pushed.returncode == 0, pushed.stderr
        assert "every run is in MLflow" in pushed.stdout
        runs = _runs(url)
        assert sorted(r.data.tags.get("mlrecipes.step", "") for r in runs) == [
            "",
            "fit",
            "make",
            "score",
            "side",
        ]
        assert {r.info.status for r in runs} == {"FINISHED"}
        parent = next(r for r in runs if "mlrecipes.step" not in r.data.tags)
        assert {r.data.tags.get("mlflow.parentRunId") for r in runs} == {None, parent.info.run_id}
        up = cli("run", "-f", str(manifest), cwd=manifest.parent)
        assert up.returncode == 0 and "waiting for MLflow" not in up.stderr, up.stderr
        assert parent.info.run_id in up.stdout  # the local id printed before is MLflow's now
    finally:
        stop_mlflow_server(server)


def test_two_commands_share_one_warm_tracker(tmp_path: Path, warm_on: list[WorkspacePaths]) -> None:
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    warm_on.append(ws.paths)
    ws.sync()
    procs = [
        subprocess.Popen(
            [
                *CLI,
                "run",
                "-f",
                str(manifest),
                "-S",
                f"fit.lr={lr}",
            ],
            cwd=manifest.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for lr in (0.1, 0.2)
    ]
    for proc in procs:
        proc.communicate(timeout=300)
        assert proc.returncode == 0
    status = ws.tracker_status()
    assert status is not None
    wait_for(lambda: _tracker_pids(ws.paths) == [status.pid], timeout=180)  # a second one gave way
    assert ws.push_runs().runs == 0  # asks that tracker, which holds MLflow open
    parents = [
        r for r in _runs(f"sqlite:///{ws.paths.mlflow_db}") if "mlrecipes.step" not in r.data.tags
    ]
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}
    assert _tracker_pids(ws.paths) == [status.pid]


def test_the_warm_tracker_never_holds_a_command_and_ends_when_idle(
    tmp_path: Path, warm_on: list[WorkspacePaths], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(warm.IDLE_ENV, "3")
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    warm_on.append(ws.paths)
    ws.sync()
    # capture_output: if the tracker kept the command's stdout or stderr, this would hang
    done = cli("run", "-f", str(manifest), cwd=manifest.parent, timeout=300)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: _tracker_pids(ws.paths), timeout=180)
    uri = f"sqlite:///{ws.paths.mlflow_db}"
    wait_for(
        lambda: {r.info.status for r in _runs(uri)} == {"FINISHED"} and len(_runs(uri)) == 5,
        timeout=180,
    )
    wait_for(lambda: not _tracker_pids(ws.paths), timeout=120)  # idle 3 s, then gone
    assert ws.tracker_status() is None and not ws.paths.tracker_socket.exists()


def test_a_first_run_whose_sync_fails_starts_no_tracker_and_writes_no_store(
    tmp_path: Path, warm_on: list[WorkspacePaths]
) -> None:
    manifest = make_workspace(tmp_path)
    text = manifest.read_text().replace("../upstream/models", "../upstream/missing")
    manifest.write_text(text)
    paths = WorkspacePaths(manifest.parent.resolve())
    paths.mlflow_db.unlink(missing_ok=True)  # the test copy of a blank store
    warm_on.append(paths)
    failed = cli("run", "-f", str(manifest), cwd=manifest.parent)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert not paths.mlflow_db.exists()
    assert not segments(paths.outbox)
    assert not _tracker_pids(paths) and not paths.tracker_socket.exists()
    assert "BrokenPipe" not in (paths.tracker_log.read_text() if paths.tracker_log.exists() else "")


def test_in_ci_a_command_returns_once_mlflow_holds_its_runs(
    tmp_path: Path, warm_on: list[WorkspacePaths]
) -> None:
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    warm_on.append(ws.paths)
    ws.sync()
    done = cli("run", "-f", str(manifest), cwd=manifest.parent, env={"CI": "true"})
    assert done.returncode == 0, done.stderr
    runs = _runs(f"sqlite:///{ws.paths.mlflow_db}")  # at once: no waiting here
    assert len(runs) == 5 and {r.info.status for r in runs} == {"FINISHED"}
    assert not segments(ws.paths.outbox)
