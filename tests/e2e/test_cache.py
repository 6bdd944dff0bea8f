"""The step cache, overrides, sweeps, --force and --dry-run, end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.workspaces import (
    CLI,
    commit,
    executions,
    make_repo,
    make_workspace,
    write_manifest,
)
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import RunOptions, Workspace

pytestmark = pytest.mark.slow


def _children(uri: str, parent: str) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("e2e").experiment_id],  # type: ignore[union-attr]
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    return {r.data.tags["mlrecipes.step"]: r for r in runs}


def _parent(uri: str, run_id: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri).get_run(run_id)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


def test_param_change_reruns_step_and_downstream(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    ws.run()
    plan = ws.plan(overrides=["fit.lr=0.25"])
    status = {s.step: (s.status, s.reasons) for s in plan.variants[0].steps}
    assert status["make"][0] == "cached" and status["side"][0] == "cached"
    assert status["fit"] == ("run", ("params changed: lr: 0.5 -> 0.25",))
    assert status["score"] == ("run", ("input changed: model",))
    ws.run(options=RunOptions(overrides=("fit.lr=0.25",)))
    assert executions(manifest)[4:] == ["fit", "score"]


def test_global_param_override_reaches_every_step(manifest: Path, tmp_path: Path) -> None:
    ws = Workspace.load(manifest)
    other = tmp_path / "other.log"
    plan = ws.plan(overrides=[f"counter={other}"])
    assert all(s.params["counter"] == str(other) for s in plan.variants[0].steps)


def test_unknown_override_suggests_the_key(manifest: Path) -> None:
    result = CliRunner().invoke(app, ["run", "-f", str(manifest), "-S", "fit.lrr=1", "--dry-run"])
    assert result.exit_code == 1
    assert "fit.lr" in result.output


def test_force_reruns_step_and_downstream(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    ws.run()
    plan = ws.plan(force=["fit"])
    reasons = {s.step: s.reasons for s in plan.variants[0].steps if s.status == "run"}
    assert reasons == {"fit": ("forced",), "score": ("forced: upstream fit reruns",)}
    ws.run(options=RunOptions(force=("fit",)))
    assert executions(manifest)[4:] == ["fit", "score"]


def test_sweep_shares_upstream_step(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    result = ws.run(options=RunOptions(overrides=("fit.lr=0.1,0.2",)))
    assert len(result.run_ids) == 2
    ran = executions(manifest)
    assert ran.count("make") == 1 and ran.count("side") == 1
    assert ran.count("fit") == 2 and ran.count("score") == 2
    first, second = (_children(result.tracking_uri, r) for r in result.run_ids)
    # a shared step executes once: one child run, and a hit on the other parent
    assert set(first) == {"make", "side", "fit", "score"} and set(second) == {"fit", "score"}
    assert first["make"].data.tags["mlrecipes.cache"] == "miss"
    other = _parent(result.tracking_uri, result.run_ids[1])
    assert other.data.tags["mlrecipes.steps.make.cache"] == "hit"
    assert other.data.tags["mlrecipes.steps.make.source_run"] == first["make"].info.run_id
    assert second["fit"].data.metrics["fit.loss"] == 2 * first["fit"].data.metrics["fit.loss"]
    # variant runs are named by their overrides, short and distinct
    assert {_parent(result.tracking_uri, r).info.run_name for r in result.run_ids} == {
        "lr=0.1",
        "lr=0.2",
    }
    # exp show reads the same store
    shown = CliRunner().invoke(app, ["exp", "show", "-f", str(manifest), "--json"])
    assert shown.exit_code == 0, shown.output
    records = json.loads(shown.output)
    assert {r["overrides"] for r in records} == {"fit.lr=0.1", "fit.lr=0.2"}
    assert sorted(r["fit.loss"] for r in records) == [2.0, 4.0]
    csv = CliRunner().invoke(
        app, ["exp", "show", "-f", str(manifest), "--csv", "--sort", "fit.loss"]
    )
    assert csv.exit_code == 0, csv.output
    assert csv.output.splitlines()[0].startswith("run_id,start_time,status,overrides")
    assert ",4.0," in csv.output.splitlines()[1]


def test_up_to_date_run_does_not_import_mlflow(manifest: Path) -> None:
    Workspace.load(manifest).run()
    code = textwrap.dedent(
        f"""
        import sys
        from mlrecipes.core import Workspace
        result = Workspace.load({str(manifest)!r}).run()
        print(result.status, "mlflow" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["UP_TO_DATE", "False"]


def test_interrupted_sweep_resumes(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    ws.sync()
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            "-f",
            str(manifest),
            "-j",
            "1",
            "-S",
            "fit.lr=0.1,0.2,0.3",
            "-S",
            "+fit.sleep=0.5",
        ],
        cwd=manifest.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 180
    while executions(manifest).count("fit") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    done_before = len(
        [p for p in (ws.paths.store / "fit").iterdir() if not p.name.startswith(".") and p.is_dir()]
    )
    assert 1 <= done_before < 3
    before = executions(manifest).count("fit")
    ws.run(options=RunOptions(overrides=("fit.lr=0.1,0.2,0.3", "+fit.sleep=0.5")))
    assert executions(manifest).count("fit") - before == 3 - done_before
    assert executions(manifest).count("make") == 1


MONO_MANIFEST = """
    version: 1
    name: e2e
    repos:
      a: {url: ../mono, rev: main, subdir: pkg_a}
      b: {url: ../mono, rev: main, subdir: pkg_b}
    steps:
      first:
        fn: a:moda.f
        params: {counter: COUNTER}
        outs: {x: x.txt}
      second:
        fn: b:modb.g
        params: {counter: COUNTER}
        deps: {x: !out first.x}
        outs: {y: y.txt}
"""
STEP = """
from pathlib import Path


def {name}(counter: str, y: Path | None = None, x: Path | None = None) -> dict:
    with open(counter, "a") as fh:
        fh.write("{name}\\n")
    target = y if y is not None else x
    assert target is not None
    target.write_text("{version}")
    return {{"v": {version}}}
"""


def _mono(tmp_path: Path) -> tuple[Path, Path]:
    mono = make_repo(
        tmp_path / "mono",
        {
            "pkg_a/moda.py": STEP.format(name="f", version=1),
            "pkg_b/modb.py": STEP.format(name="g", version=1),
        },
    )
    counter = tmp_path / "ws" / "counter.log"
    manifest = write_manifest(tmp_path / "ws", MONO_MANIFEST.replace("COUNTER", str(counter)))
    return mono, manifest


def test_unrelated_monorepo_commit_keeps_cache(tmp_path: Path) -> None:
    mono, manifest = _mono(tmp_path)
    ws = Workspace.load(manifest)
    ws.run()
    commit(mono, {"pkg_b/modb.py": STEP.format(name="g", version=2)})
    ws.sync(update=["a", "b"])
    plan = ws.plan()
    status = {s.step: (s.status, s.reasons) for s in plan.variants[0].steps}
    assert status["first"][0] == "cached"
    assert status["second"][0] == "run"
    assert status["second"][1][0].startswith("code changed: b@")
    ws.run()
    assert executions(manifest) == ["f", "g", "g"]


def test_code_change_in_subdir_reruns_step_and_downstream(tmp_path: Path) -> None:
    mono, manifest = _mono(tmp_path)
    ws = Workspace.load(manifest)
    ws.run()
    commit(mono, {"pkg_a/moda.py": STEP.format(name="f", version=3)})
    ws.sync(update=["a"])
    ws.run()
    assert executions(manifest) == ["f", "g", "f", "g"]
