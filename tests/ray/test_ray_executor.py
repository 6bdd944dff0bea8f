"""The Ray executor on a real two-node cluster: a pipeline over two environments,
a failing step, cancellation, and a node that cannot see the workspace."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from mlrecipes.core.executors.ray import RayExecutor
from mlrecipes.core.run.scheduler import RunInterrupted, run_tasks
from mlrecipes.core.store.local import Store

from ._cluster import Cluster
from ._repos import FEATURES, MODELS, Repo, make_repo, task

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, Repo]:
    base = tmp_path_factory.mktemp("repos")
    return make_repo(base, "features", "feats", FEATURES), make_repo(base, "models", "mdl", MODELS)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ws" / ".mlrecipes" / "store")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its (killed) parent's reaper.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def _wait_dead(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _wait_file(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.05)
    raise TimeoutError(f"{path} never appeared")


def test_failing_step_reports_traceback_and_skips_dependents(
    ray_cluster: Cluster, repos: tuple[Repo, Repo], store: Store
) -> None:
    features, models = repos
    first = task(features, "feats", "part", "first", params={"n": 1}, outputs={"out": "o"})
    bad = task(
        models, "mdl", "boom", "bad", inputs={"a": store.entry("first", "firstfp") / "o"},
        needs=("first",),
    )  # fmt: skip
    after = task(features, "feats", "part", "after", params={"n": 2}, outputs={"out": "o"},
                 needs=("bad",))  # fmt: skip
    executor = RayExecutor()
    try:
        results = run_tasks([first, bad, after], executor=executor, store=store, jobs=4)
    finally:
        executor.close()
    assert [r.status for r in results] == ["ok", "failed", "skipped"]
    assert results[1].error is not None
    assert "ValueError: boom from the models repo" in results[1].error
    assert "Traceback" not in results[1].error or "boom" in results[1].error.splitlines()[-1]
    assert results[1].log_path is not None
    assert "ValueError: boom" in results[1].log_path.read_text()
    # the spec holds secrets: it never outlives the step, even a failed one (issue 25)
    assert not results[1].log_path.with_suffix(".spec.json").exists()
    assert not store.entry("bad", "badfp").exists()


def test_node_that_cannot_see_the_workspace_says_so(
    ray_cluster: Cluster, repos: tuple[Repo, Repo], store: Store, tmp_path: Path
) -> None:
    features, _ = repos
    gone = task(features, "feats", "part", "gone", params={"n": 1}, outputs={"out": "o"})
    gone = gone.__class__(**{**gone.__dict__, "python": tmp_path / "elsewhere" / "bin" / "python"})
    executor = RayExecutor()
    try:
        [result] = run_tasks([gone], executor=executor, store=store, jobs=1)
    finally:
        executor.close()
    assert result.status == "failed"
    assert result.error is not None
    assert f"cannot see {tmp_path / 'elsewhere'}" in result.error
    assert "Ray node" in result.error
    assert "every node of the Ray cluster mounts at the same path" in result.error


def test_interrupt_cancels_the_run_and_reports_killed(
    ray_cluster: Cluster, repos: tuple[Repo, Repo], store: Store, tmp_path: Path
) -> None:
    """SIGINT during run_tasks (Ctrl-C): the step is killed, the rest skipped."""
    features, _ = repos
    started = tmp_path / "started"
    slow = task(features, "feats", "sleepy", "slow", params={"started": str(started)})
    later = task(features, "feats", "part", "later", params={"n": 1}, outputs={"out": "o"},
                 needs=("slow",))  # fmt: skip
    pids: list[int] = []

    def interrupt() -> None:
        pids.append(int(_wait_file(started)))
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    executor = RayExecutor()
    try:
        with pytest.raises(RunInterrupted) as info:
            run_tasks([slow, later], executor=executor, store=store, jobs=2)
    finally:
        executor.close()
    assert [r.status for r in info.value.results] == ["killed", "skipped"]
    assert _wait_dead(pids[0])
    assert not store.entry("slow", "slowfp").exists()


@pytest.mark.parametrize("func", ["sleepy", "stubborn"])
def test_cancel_kills_the_step_process(
    ray_cluster: Cluster, repos: tuple[Repo, Repo], store: Store, tmp_path: Path, func: str
) -> None:
    """``sleepy`` stops at SIGTERM; ``stubborn`` ignores it, so a second cancel kills its
    Ray worker by force and the kernel kills the step (PR_SET_PDEATHSIG)."""
    features, _ = repos
    started = tmp_path / "started"
    t = task(features, "feats", func, func, params={"started": str(started)})
    executor = RayExecutor(grace=30.0)
    try:
        tmp = store.begin(t.step, t.fingerprint)
        future = executor.submit(t, tmp_entry=tmp, log_path=store.log_path(t.step, t.fingerprint))
        pid = int(_wait_file(started))
        assert _alive(pid)
        executor.cancel_all()
        if func == "stubborn":
            time.sleep(1.0)
            assert _alive(pid), "SIGTERM is ignored; the grace period is long"
            executor.cancel_all()  # a second cancel: no grace
        outcome = future.result(timeout=60)
    finally:
        executor.close()
    assert outcome.status == "killed"
    assert _wait_dead(pid), f"step process {pid} outlived its cancelled Ray task"


def test_pipeline_over_two_environments_runs_across_nodes(
    ray_cluster: Cluster, repos: tuple[Repo, Repo], store: Store
) -> None:
    """Last in the module: the worker node joins while the tests above run."""
    features, models = repos
    ray_cluster.wait_for_nodes(2)
    parts = [
        task(features, "feats", "part", f"p{i}", params={"n": i, "seconds": 1.0},
             outputs={"out": "part.txt"})
        for i in range(4)
    ]  # fmt: skip
    join = task(
        models, "mdl", "join", "join",
        inputs={"a": store.entry("p0", "p0fp") / "part.txt",
                "b": store.entry("p3", "p3fp") / "part.txt"},
        outputs={"out": "joined.txt"}, needs=("p0", "p3"),
    )  # fmt: skip
    executor = RayExecutor()
    try:
        results = run_tasks([*parts, join], executor=executor, store=store, jobs=8)
    finally:
        executor.close()
    assert [r.status for r in results] == ["ok"] * 5, [r.error for r in results]
    assert results[0].metrics == {"n": 0.0} and results[4].metrics == {"parts": 2.0}
    nodes = set()
    for i, result in enumerate(results[:4]):
        assert result.entry is not None
        n, prefix, node = (result.entry / "part.txt").read_text().split("|")
        assert (n, Path(prefix)) == (str(i), features.python.parent.parent)
        nodes.add(node)
    assert len(nodes) == 2, "four one-CPU steps on two one-CPU nodes use both nodes"
    assert results[4].entry is not None
    joined = (results[4].entry / "joined.txt").read_text().splitlines()
    assert Path(joined[-1]) == models.python.parent.parent  # the models repo's own env
    assert results[4].log_path is not None and results[4].log_path.exists()
