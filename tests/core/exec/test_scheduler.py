"""run_tasks with the real LocalExecutor and a real interpreter."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrecipes.core.executors import LocalExecutor
from mlrecipes.core.executors.task import StepResult, StepTask
from mlrecipes.core.run.scheduler import SchedulerEvent, TaskFinished, TaskStarted, run_tasks
from mlrecipes.core.store.local import Store

from .conftest import TaskFactory


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    ex = LocalExecutor(2, grace=2.0)
    yield ex
    ex.close()


def run(tasks: list[StepTask], store: Store, ex: LocalExecutor, **kw: object) -> list[StepResult]:
    return run_tasks(tasks, executor=ex, store=store, jobs=2, **kw)  # type: ignore[arg-type]


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def no_temps(store: Store) -> bool:
    return not list(store.root.glob("*/.tmp-*"))


def test_success_publishes_entry_with_metrics(
    make_task: TaskFactory, store: Store, executor: LocalExecutor
) -> None:
    events: list[SchedulerEvent] = []
    task = make_task("write", params={"n": 4}, outputs={"out": "o/out.txt"})
    [result] = run([task], store, executor, on_event=events.append)
    assert result.status == "ok", result.error
    assert result.metrics == {"n": 4.0, "converged": 1.0}
    assert result.entry == store.entry("write", "writefp")
    assert (result.entry / "o/out.txt").read_text() == "x:4"
    record = store.read_record("write", "writefp")
    assert record is not None and record.metrics == result.metrics
    assert record.outputs == ("out",) and record.label == "write (repo@abc1234)"
    assert [type(e) for e in events] == [TaskStarted, TaskFinished]
    assert isinstance(events[0], TaskStarted) and events[0].log_path == result.log_path
    assert no_temps(store)
    assert result.log_path is not None and not list(result.log_path.parent.glob("*.json"))


def test_failure_keeps_log_and_no_entry(
    make_task: TaskFactory, store: Store, executor: LocalExecutor
) -> None:
    [result] = run([make_task("boom", params={"n": 2})], store, executor)
    assert result.status == "failed"
    assert result.error is not None and result.error.endswith("ValueError: boom 2")
    assert "in inner" in result.error  # the last lines of the traceback
    assert not store.is_complete("boom", "boomfp") and no_temps(store)
    assert result.log_path is not None and "Traceback" in result.log_path.read_text()


def test_signature_and_return_errors(
    make_task: TaskFactory, store: Store, executor: LocalExecutor
) -> None:
    results = run(
        [
            make_task("kw_only", params={"a": 1, "zz": 2}),
            make_task("returns_list", params={"x": 1}),
        ],
        store,
        executor,
    )
    # A return value that is no dict of numbers is noted in the log, not a failure.
    assert [r.status for r in results] == ["failed", "ok"]
    assert results[0].error is not None and "passes 'zz'" in results[0].error
    assert results[1].metrics == {} and results[1].log_path is not None
    assert "returned list" in results[1].log_path.read_text()


def test_missing_output_is_a_failure(
    make_task: TaskFactory, store: Store, executor: LocalExecutor
) -> None:
    [result] = run([make_task("forgets", outputs={"out": "f.txt"})], store, executor)
    assert result.status == "failed" and "'out'" in (result.error or "")
    assert not store.is_complete("forgets", "forgetsfp")


def test_dependencies_skip_and_independent_branch(
    make_task: TaskFactory, store: Store, executor: LocalExecutor, tmp_path: Path
) -> None:
    src = tmp_path / "src.txt"
    src.write_text("abc")
    up = make_task("write", params={"tag": "up"}, outputs={"out": "o.txt"})
    down = make_task(
        "upper",
        inputs={"src": store.entry("write", up.fingerprint) / "o.txt"},
        outputs={"out": "o.txt"},
        needs=(up.key,),
    )
    bad = make_task("boom", params={"n": 1})
    after_bad = make_task(
        "write", key="afterbadfp", step="after", outputs={"out": "o"}, needs=(bad.key,)
    )
    after_after = make_task("nothing", params={"x": 1}, needs=(after_bad.key,))
    results = run([after_after, after_bad, bad, down, up], store, executor)
    status = {r.key: r.status for r in results}
    assert [r.key for r in results] == ["nothingfp", "afterbadfp", "boomfp", "upperfp", "writefp"]
    assert status == {
        "writefp": "ok", "upperfp": "ok", "boomfp": "failed",
        "afterbadfp": "skipped", "nothingfp": "skipped",
    }  # fmt: skip
    assert results[3].entry is not None and (results[3].entry / "o.txt").read_text() == "UP:1"
    assert "upstream step" in (results[1].error or "")


def test_fail_fast_cancels_running_and_skips_rest(
    make_task: TaskFactory, store: Store, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    slow = make_task("sleepy", params={"started": str(started)}, outputs={"out": "o"})
    bad = make_task("boom", params={"n": 1}, needs=())
    later = [
        make_task("nothing", key=f"later{i}", step=f"later{i}", params={"x": i}) for i in range(3)
    ]
    ex = LocalExecutor(2, grace=2.0)
    t0 = time.monotonic()
    results = run_tasks([slow, bad, *later], executor=ex, store=store, jobs=2, fail_fast=True)
    ex.close()
    status = {r.key: r.status for r in results}
    assert time.monotonic() - t0 < 20
    assert status["boomfp"] == "failed"
    assert status["sleepyfp"] == "killed"
    assert {status[f"later{i}"] for i in range(3)} == {"skipped"}
    assert not store.is_complete("sleepy", "sleepyfp") and no_temps(store)


def test_cancel_mid_run_then_rerun_completes(
    make_task: TaskFactory, store: Store, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    task = make_task("sleepy", params={"started": str(started)}, outputs={"out": "o.txt"})
    ex = LocalExecutor(1, grace=2.0)

    def cancel_when_started() -> None:
        wait_for(started)
        ex.cancel_all()

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    [result] = run_tasks([task], executor=ex, store=store, jobs=1)
    canceller.join()
    ex.close()
    assert result.status == "killed"
    assert not store.is_complete("sleepy", "sleepyfp") and no_temps(store)
    quick = dataclasses.replace(task, params={"started": str(started), "seconds": 0})
    ex2 = LocalExecutor(1)
    [again] = run_tasks([quick], executor=ex2, store=store, jobs=1)
    ex2.close()
    assert again.status == "ok" and store.is_complete("sleepy", "sleepyfp")


def test_directory_outputs(make_task: TaskFactory, store: Store, executor: LocalExecutor) -> None:
    [result] = run(
        [make_task("make_dir", params={"files": 2}, outputs={"out": "parts"})], store, executor
    )
    assert result.status == "ok" and result.entry is not None
    assert sorted(p.name for p in (result.entry / "parts").iterdir()) == ["0.txt", "1.txt"]


def test_prepare_fills_env_and_env_is_clean(
    make_task: TaskFactory, store: Store, executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/else")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    task = make_task("env_echo", outputs={"out": "o.txt"})

    def prepare(t: StepTask) -> StepTask:
        return dataclasses.replace(t, env={"MLFLOW_RUN_ID": "run-42"})

    [result] = run([task], store, executor, prepare=prepare)
    assert result.status == "ok", result.error
    assert result.entry is not None and (result.entry / "o.txt").read_text() == "run-42|-"


def test_failing_prepare_fails_the_task(
    make_task: TaskFactory, store: Store, executor: LocalExecutor
) -> None:
    def prepare(t: StepTask) -> StepTask:
        raise RuntimeError("tracking down")

    [result] = run([make_task("nothing", params={"x": 1})], store, executor, prepare=prepare)
    assert result.status == "failed" and "tracking down" in (result.error or "")
    assert no_temps(store)


def test_rejects_bad_graphs(make_task: TaskFactory, store: Store, executor: LocalExecutor) -> None:
    a = make_task("nothing", key="a", needs=("b",))
    b = make_task("nothing", key="b", needs=("a",))
    with pytest.raises(ValueError, match="cycle"):
        run([a, b], store, executor)
    with pytest.raises(ValueError, match="unknown task 'zz'"):
        run([make_task("nothing", key="c", needs=("zz",))], store, executor)
    with pytest.raises(ValueError, match="duplicate"):
        run([make_task("nothing", key="d"), make_task("nothing", key="d")], store, executor)


SIGINT_SCRIPT = """
import json, sys
from pathlib import Path
from mlrecipes.core.executors import LocalExecutor
from mlrecipes.core.run.scheduler import RunInterrupted, run_tasks
from mlrecipes.core.store.local import Store
from mlrecipes.core.executors.task import StepTask

repo, store_dir, started = sys.argv[1:4]
task = StepTask(key="k", step="sleepy", fingerprint="k", python=Path(sys.executable),
                cwd=Path(repo), module="mod", func="sleepy",
                params={"started": started}, inputs={}, outputs={"out": "o.txt"})
other = StepTask(key="k2", step="after", fingerprint="k2", python=Path(sys.executable),
                 cwd=Path(repo), module="mod", func="nothing", params={"x": 1},
                 inputs={}, outputs={}, needs=("k",))
ex = LocalExecutor(1)
try:
    run_tasks([task, other], executor=ex, store=Store(Path(store_dir)), jobs=1)
except RunInterrupted as exc:
    print(json.dumps({"signum": exc.signum, "status": [r.status for r in exc.results]}))
    sys.exit(130)
finally:
    ex.close()
sys.exit(0)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_kills_steps_and_reports(
    repo: Path, store: Store, tmp_path: Path, signum: signal.Signals
) -> None:
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(SIGINT_SCRIPT),
            str(repo),
            str(store.root),
            str(started),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(started)
        step_pid = int(started.read_text())
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert json.loads(out) == {"signum": int(signum), "status": ["killed", "skipped"]}
    assert not store.is_complete("sleepy", "k") and no_temps(store)
    with pytest.raises(ProcessLookupError):  # the step process is gone too
        os.kill(step_pid, 0)
