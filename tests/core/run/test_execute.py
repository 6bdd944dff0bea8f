"""The run layer with a recording tracker and a fake executor: what gets logged where.

No git, no uv, no MLflow: the repos are plain folders, the executor writes the
outputs a step declares and returns fixed metrics, the tracker records calls.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.envs import Environment
from mlrecipes.core.errors import StepFailed, TrackingError
from mlrecipes.core.executors.base import Outcome
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.manifest import Manifest, load_manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.compose import RunServices
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.run.pipeline import run_pipeline
from mlrecipes.core.sync.lock import Lock
from mlrecipes.core.sync.workspace_sync import RepoContext, SyncResult
from mlrecipes.core.tracking import BackgroundTracker, RecordedRun, RecordingTracker
from mlrecipes.git_sources.spec import Resolved

MANIFEST = """
    version: 1
    name: unit
    repos:
      r: {url: ./r, rev: main}
    steps:
      a:
        fn: r:mod.a
        params: {n: 1, opt: {lr: 0.1}}
        outs: {x: x.txt}
      b:
        fn: r:mod.b
        params: {k: 2}
        deps: {x: !out a.x}
        outs: {y: y.txt}
"""


class FakeExecutor:
    """Writes every declared output; fails the steps named in ``fail``."""

    def __init__(self, metrics: Mapping[str, float], fail: frozenset[str] = frozenset()) -> None:
        self.metrics = dict(metrics)
        self.fail = fail
        self.ran: list[str] = []

    def submit(self, task: StepTask, *, tmp_entry: Path, log_path: Path) -> Future[Outcome]:
        self.ran.append(task.step)
        log_path.write_text(f"running {task.step}\n")
        future: Future[Outcome] = Future()
        if task.step in self.fail:
            future.set_result(Outcome("failed", error="boom"))
            return future
        for rel in task.outputs.values():
            (tmp_entry / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_entry / rel).write_text(task.step)
        future.set_result(Outcome("ok", metrics=self.metrics))
        return future

    def cancel_all(self) -> None:
        pass

    def close(self) -> None:
        pass


class Bench:
    """A workspace of one plain-folder repo, run with fakes."""

    def __init__(self, tmp: Path) -> None:
        root = tmp / "ws"
        (root / "r").mkdir(parents=True)
        (root / "workspace.yaml").write_text(textwrap.dedent(MANIFEST))
        self.manifest: Manifest = load_manifest(root / "workspace.yaml", local=False)
        self.paths = WorkspacePaths.for_manifest(self.manifest)
        self.paths.ensure()
        source = Resolved("r", "./r", "main", "c" * 40, None, "t" * 40, root / "r")
        env = Environment("k", tmp / "env", tmp / "env" / "bin" / "python", "deps", "bare")
        self.sync = SyncResult({"r": RepoContext("r", source, env)}, Lock({}), False)
        self.tracker = RecordingTracker()

    def run(self, executor: FakeExecutor, tracker: Any = None, **options: Any) -> RunResult:
        inner = tracker or self.tracker
        services = RunServices(lambda _uri: BackgroundTracker(inner), lambda: executor)
        return run_pipeline(
            self.manifest,
            self.paths,
            self.sync,
            (),
            RunOptions(**options),
            services=services,
        )

    def children(self, parent: str) -> dict[str, RecordedRun]:
        runs = self.tracker.runs.values()
        return {r.name: r for r in runs if r.parent_id == parent}


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(tmp_path)


def test_executed_steps_get_child_runs_and_the_parent_records_every_step(bench: Bench) -> None:
    result = bench.run(FakeExecutor({"auc": 0.5}))
    parent = bench.tracker.runs[result.run_ids[0]]
    children = bench.children(parent.run_id)
    assert sorted(children) == ["a", "b"]
    assert parent.status == "FINISHED" and {c.status for c in children.values()} == {"FINISHED"}
    assert parent.params["a"] == {"n": 1, "opt": {"lr": 0.1}}  # flattened by the tracker
    for step in ("a", "b"):
        assert parent.tags[f"mlrecipes.steps.{step}.cache"] == "miss"
        assert parent.tags[f"mlrecipes.steps.{step}.source_run"] == children[step].run_id
        assert parent.metrics[f"{step}.auc"] == 0.5
        assert children[step].log_name == f"{step}.log"
        assert children[step].tags["mlflow.source.name"] == f"r:mod.{step}"
    steps = json.loads(parent.artifacts["steps"].read_text())["steps"]
    assert [(s["step"], s["cache"], s["metrics"]) for s in steps] == [
        ("a", "miss", {"auc": 0.5}),
        ("b", "miss", {"auc": 0.5}),
    ]


def test_one_param_changed_logs_one_child_run_and_a_hit_on_the_parent(bench: Bench) -> None:
    first = bench.run(FakeExecutor({"auc": 0.5}))
    made_a = bench.children(first.run_ids[0])["a"].run_id
    executor = FakeExecutor({"auc": 0.7})
    second = bench.run(executor, overrides=("b.k=3",))
    assert executor.ran == ["b"]
    parent = bench.tracker.runs[second.run_ids[0]]
    assert sorted(bench.children(parent.run_id)) == ["b"]
    assert parent.tags["mlrecipes.steps.a.cache"] == "hit"
    assert parent.tags["mlrecipes.steps.a.source_run"] == made_a
    assert parent.metrics == {"a.auc": 0.5, "b.auc": 0.7}  # a hit's metrics too
    assert parent.name == "k=3"


def test_sweep_executes_a_shared_step_once(bench: Bench) -> None:
    executor = FakeExecutor({"auc": 0.5})
    result = bench.run(executor, overrides=("b.k=3,4",))
    assert sorted(executor.ran) == ["a", "b", "b"]
    first, second = (bench.tracker.runs[r] for r in result.run_ids)
    assert sorted(bench.children(first.run_id)) == ["a", "b"]
    assert sorted(bench.children(second.run_id)) == ["b"]
    assert second.tags["mlrecipes.steps.a.cache"] == "hit"
    assert second.tags["mlrecipes.steps.a.source_run"] == bench.children(first.run_id)["a"].run_id
    assert {first.name, second.name} == {"k=3", "k=4"}


def test_metric_names_mlflow_refuses_are_renamed_and_the_log_says_so(bench: Bench) -> None:
    result = bench.run(FakeExecutor({"lr@epoch=3": 1.0, "ok": 2.0}))
    a = bench.children(result.run_ids[0])["a"]
    assert a.metrics == {"a.lr_epoch_3": 1.0, "a.ok": 2.0}
    assert a.log_path is not None
    assert "'lr@epoch=3' is logged to MLflow as 'a.lr_epoch_3'" in a.log_path.read_text()
    assert bench.tracker.runs[result.run_ids[0]].metrics["a.lr_epoch_3"] == 1.0


def test_a_metric_has_one_key_on_the_child_and_on_the_parent(bench: Bench) -> None:
    result = bench.run(FakeExecutor({"auc": 0.5}))
    parent = bench.tracker.runs[result.run_ids[0]]
    children = bench.children(result.run_ids[0])
    for step, child in children.items():
        assert child.metrics == {f"{step}.auc": 0.5}
        assert set(child.metrics) <= set(parent.metrics)


class BrokenStore(RecordingTracker):
    """The store goes away once the pipeline run exists (db removed, disk full)."""

    def finish_step(self, run_id: str, outcome: Any) -> None:
        raise TrackingError("cannot log: database is gone", uri="sqlite:///x.db")


def test_a_tracking_failure_is_a_user_error_and_healthy_steps_finish(bench: Bench) -> None:
    executor = FakeExecutor({"auc": 0.5})
    broken = BrokenStore()
    with pytest.raises(TrackingError, match="database is gone"):
        bench.run(executor, tracker=broken)
    assert executor.ran == ["a", "b"]
    assert "RUNNING" not in {r.status for r in broken.runs.values()}
    assert bench.run(FakeExecutor({})).status == "FINISHED"  # outputs stayed cached


def test_a_step_failure_outranks_a_tracking_failure(bench: Bench) -> None:
    with pytest.raises(StepFailed) as failed:
        bench.run(FakeExecutor({}, fail=frozenset({"b"})), tracker=BrokenStore())
    assert "database is gone" in (failed.value.hint or "")


def _note_run(tracker: Any, run_id: str) -> None:
    tracker.runs[run_id].tags["uploaded"] = "yes"


def test_a_job_after_a_step_runs_once_its_run_exists(bench: Bench) -> None:
    executor = FakeExecutor({})
    services = RunServices(
        lambda _uri: BackgroundTracker(bench.tracker),
        lambda: executor,
        after_step=lambda result: _note_run if result.step == "a" else None,
    )
    result = run_pipeline(
        bench.manifest, bench.paths, bench.sync, (), RunOptions(), services=services
    )
    children = bench.children(result.run_ids[0])
    assert children["a"].tags.get("uploaded") == "yes" and "uploaded" not in children["b"].tags
