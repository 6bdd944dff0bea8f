"""`mlrecipes run` end to end: real git repos, real uv environments, a real MLflow store."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.mlflow_server import MlflowServer, mlflow_server_fixture
from tests.helpers.workspaces import (
    cli,
    commit,
    executions,
    git,
    make_one_repo_workspace,
    make_repo,
    make_workspace,
    write_manifest,
)
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import RunOptions, StepFailed, Workspace

pytestmark = pytest.mark.slow


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str) -> tuple[list[Any], list[Any]]:
    client = _client(uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=500)
    parents = [r for r in runs if r.data.tags.get("mlrecipes.kind") == "pipeline"]
    children = [r for r in runs if r.data.tags.get("mlrecipes.kind") == "step"]
    return parents, children


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


def test_each_step_sees_its_own_repo_environment(manifest: Path) -> None:
    result = Workspace.load(manifest).run()
    metrics = {r.step: dict(r.metrics) for r in result.results.values()}
    assert metrics["make"]["six"] == 1.16
    assert metrics["fit"]["six"] == 1.17
    assert metrics["fit"]["loss"] == (2 + 4 + 6 + 8) * 0.5
    assert sorted(executions(manifest)) == ["fit", "make", "score", "side"]
    model = manifest.parent / "outputs" / "model.json"
    assert model.is_symlink() and json.loads(model.read_text()) == {"w": 10.0}
    assert (manifest.parent / "outputs" / "report" / "score.txt").exists()


def test_mlflow_gets_parent_and_nested_child_runs(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    result = ws.run()
    parents, children = _runs(result.tracking_uri, "e2e")
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert parent.info.run_id == result.run_ids[0]
    assert parent.info.status == "FINISHED"
    lock = ws.sync().lock
    for name in ("features", "models"):
        assert parent.data.tags[f"mlrecipes.repo.{name}.commit"] == lock.repos[name].commit
        assert parent.data.tags[f"mlrecipes.repo.{name}.tree"] == lock.repos[name].tree
        # folders without a remote: recorded by absolute path, local-only
        upstream = str((manifest.parent / ".." / "upstream" / name).resolve())
        assert parent.data.tags[f"mlrecipes.repo.{name}.url"] == upstream
        assert parent.data.tags[f"mlrecipes.repo.{name}.local_only"] == "true"
    assert parent.data.tags["mlrecipes.lock_hash"] == lock.digest()
    artifacts = {
        a.path for a in _client(result.tracking_uri).list_artifacts(parent.info.run_id, "mlrecipes")
    }
    assert artifacts == {
        "mlrecipes/manifest",
        "mlrecipes/lock",
        "mlrecipes/params",
        "mlrecipes/steps",
        "mlrecipes/packages",
    }
    by_step = {c.data.tags["mlrecipes.step"]: c for c in children}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlrecipes.cache"] == "miss"
        assert child.data.tags["mlrecipes.dirty"] == "false"
        step = child.data.tags["mlrecipes.step"]
        assert parent.data.tags[f"mlrecipes.steps.{step}.cache"] == "miss"
        assert parent.data.tags[f"mlrecipes.steps.{step}.source_run"] == child.info.run_id
        assert child.info.start_time <= child.info.end_time
    fit = by_step["fit"]
    assert fit.data.params["lr"] == "0.5"
    assert fit.data.metrics["fit.loss"] == 10.0  # one key on the child and the parent
    assert parent.data.params["fit.lr"] == "0.5"  # every resolved param, flattened
    assert parent.data.metrics["fit.loss"] == 10.0
    assert fit.data.tags["mlflow.source.git.commit"] == lock.repos["models"].commit
    assert fit.data.tags["mlflow.source.name"] == fit.data.tags["mlrecipes.fn"]
    assert fit.data.tags["mlrecipes.repo.models.commit"] == lock.repos["models"].commit
    models = (manifest.parent / ".." / "upstream" / "models").resolve()
    assert fit.data.tags["mlrecipes.repo.models.url"] == str(models)
    assert fit.data.tags["mlrecipes.repo.models.dirty"] == "false"
    client = _client(result.tracking_uri)
    assert {a.path for a in client.list_artifacts(fit.info.run_id)} == {"fit.log", "mlrecipes"}
    # what the step read in the checkouts (issue 21), as its store entry holds it
    assert [a.path for a in client.list_artifacts(fit.info.run_id, "mlrecipes")] == [
        "mlrecipes/code.json"
    ]
    # the step process got MLFLOW_RUN_ID of its own child run
    note = (manifest.parent / "outputs" / "note.txt").read_text()
    assert note == by_step["side"].info.run_id


def test_rerun_executes_nothing_and_param_change_reruns_downstream(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    first = ws.run()
    again = ws.run()
    assert again.up_to_date and again.run_ids == first.run_ids
    assert len(executions(manifest)) == 4
    changed = ws.run(options=RunOptions(overrides=("fit.lr=0.25",)))
    assert executions(manifest)[4:] == ["fit", "score"]
    assert changed.run_ids != first.run_ids
    parents, children = _runs(changed.tracking_uri, "e2e")
    # cache hits are recorded on the parent run: child runs only for executed steps
    latest = [c for c in children if c.data.tags["mlflow.parentRunId"] == changed.run_ids[0]]
    assert sorted(c.data.tags["mlrecipes.step"] for c in latest) == ["fit", "score"]
    parent = next(p for p in parents if p.info.run_id == changed.run_ids[0])
    cache = {
        s: parent.data.tags[f"mlrecipes.steps.{s}.cache"] for s in ("make", "side", "fit", "score")
    }
    assert cache == {"make": "hit", "side": "hit", "fit": "miss", "score": "miss"}
    made_by = next(
        c.info.run_id
        for c in children
        if c.data.tags["mlflow.parentRunId"] == first.run_ids[0]
        and c.data.tags["mlrecipes.step"] == "make"
    )
    assert parent.data.tags["mlrecipes.steps.make.source_run"] == made_by
    assert parent.data.metrics["make.six"] == 1.16  # a hit's metrics, copied onto the parent


def test_failing_step_keeps_independent_branch_and_publishes_nothing(manifest: Path) -> None:
    ws = Workspace.load(manifest)
    with pytest.raises(StepFailed) as info:
        ws.run(options=RunOptions(overrides=("+fit.fail=true",)))
    text = str(info.value)
    assert "fit" in text and "models@" in text and "diverged: lr too high" in text
    assert "score" not in executions(manifest)
    assert "side" in executions(manifest)
    store = ws.paths.store
    assert not [p for p in (store / "fit").glob("*") if not p.name.startswith(".") and p.is_dir()]
    parents, children = _runs(f"sqlite:///{ws.paths.mlflow_db}", "e2e")
    assert parents[0].info.status == "FAILED"
    status = {c.data.tags["mlrecipes.step"]: c.info.status for c in children}
    assert status["fit"] == "FAILED" and status["side"] == "FINISHED"
    assert "RUNNING" not in status.values()


def test_cli_failure_exit_code_and_message(manifest: Path) -> None:
    result = CliRunner().invoke(app, ["run", "-f", str(manifest), "-S", "+fit.fail=true"])
    assert result.exit_code == 4, result.output
    assert "diverged" in result.output
    # the step's own traceback is shown, never the orchestrator's
    assert 'raise ValueError("diverged' in result.output
    assert "runner.py" not in result.output and "mlrecipes/cli" not in result.output


def test_wrong_signature_names_the_parameter(manifest: Path) -> None:
    with pytest.raises(StepFailed) as info:
        Workspace.load(manifest).run(["make"], options=RunOptions(overrides=("+make.bogus=1",)))
    assert "bogus" in str(info.value)


def test_step_run_says_which_upstream_to_run_first(manifest: Path) -> None:
    result = CliRunner().invoke(app, ["step", "run", "score", "-f", str(manifest)])
    assert result.exit_code == 1, result.output
    assert "mlrecipes run fit" in result.output


def test_step_call_prints_a_snippet_that_runs(manifest: Path, tmp_path: Path) -> None:
    import subprocess

    Workspace.load(manifest).run(["make"])
    result = CliRunner().invoke(app, ["step", "call", "fit", "-f", str(manifest)])
    assert result.exit_code == 0, result.output
    python = result.output.splitlines()[0].removeprefix("# interpreter: ").strip()
    snippet = "\n".join(result.output.splitlines()[1:])
    done = subprocess.run([python, "-c", snippet], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "fit" in executions(manifest)


def test_tracking_server_down_runs_wait_and_ci_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.mlflow_server import free_port

    # Steps never wait for MLflow, so they run; their runs wait in the outbox and the
    # command says so in one line. In CI a command must see its runs in MLflow: exit 1.
    extra = f"mlflow: {{tracking_uri: 'http://127.0.0.1:{free_port()}'}}\n"
    manifest = make_workspace(tmp_path, extra=extra)
    result = CliRunner().invoke(app, ["run", "-f", str(manifest)])
    assert result.exit_code == 0, result.output
    waiting = [line for line in result.output.splitlines() if "waiting for MLflow" in line]
    assert len(waiting) == 1 and "5 runs" in waiting[0] and "127.0.0.1" in waiting[0]
    assert "Traceback" not in result.output
    assert sorted(executions(manifest)) == ["fit", "make", "score", "side"]
    monkeypatch.setenv("CI", "true")
    again = CliRunner().invoke(app, ["run", "-f", str(manifest), "-S", "fit.lr=0.25"])
    assert again.exit_code == 1, again.output
    assert "127.0.0.1" in again.output and "runs push" in again.output
    assert sorted(executions(manifest)) == ["fit", "fit", "make", "score", "score", "side"]


mlflow_server = mlflow_server_fixture()


def test_run_against_a_real_mlflow_server(tmp_path: Path, mlflow_server: MlflowServer) -> None:
    manifest = make_workspace(tmp_path, extra=f"mlflow: {{tracking_uri: '{mlflow_server.url}'}}\n")
    result = Workspace.load(manifest).run(["fit"])
    assert result.tracking_uri == mlflow_server.url
    parents, children = _runs(mlflow_server.url, "e2e")
    parent = next(p for p in parents if p.info.run_id == result.run_ids[0])
    assert parent.info.status == "FINISHED"
    mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
    assert sorted(c.data.tags["mlrecipes.step"] for c in mine) == ["fit", "make"]
    fit = next(c for c in mine if c.data.tags["mlrecipes.step"] == "fit")
    logs = [a.path for a in _client(mlflow_server.url).list_artifacts(fit.info.run_id)]
    assert logs, "the step log is an artifact of its run"


def test_verbose_run_streams_step_output(manifest: Path) -> None:
    from tests.helpers.workspaces import commit

    upstream = manifest.parent.parent / "upstream" / "features"
    text = (upstream / "feats" / "build.py").read_text()
    commit(
        upstream,
        {
            "feats/build.py": text.replace(
                "    rows = [", "    print('hello from make')\n    rows = ["
            )
        },
    )
    result = CliRunner().invoke(app, ["-v", "run", "make", "-f", str(manifest)])
    assert result.exit_code == 0, result.output
    assert "make | hello from make" in result.output


def _disk(ws: Path) -> dict[str, int]:
    """Every file and folder of the workspace with its size, but the caches a plan may
    keep (file hashes) and the tracking store (a dry run never opens it)."""
    skip = {"hashes.json", "mlflow.db", "mlflow.db-journal"}
    return {
        str(p.relative_to(ws)): p.stat().st_size if p.is_file() else -1
        for p in ws.rglob("*")
        if p.name not in skip
    }


def test_a_dry_run_changes_nothing_on_disk(manifest: Path) -> None:
    """Issue 25 item 6: on a fresh clone (no checkouts, no environments, with or
    without a lock) `run --dry-run` writes no lock, checks nothing out, builds
    nothing; it says what a sync would do."""
    ws = manifest.parent
    lock = ws / "workspace.lock"
    before = _disk(ws)
    fresh = cli("run", "--dry-run", cwd=ws)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert _disk(ws) == before and not lock.exists()
    assert "a run would check out" in fresh.stdout, fresh.stdout
    Workspace.load(manifest).run()
    shutil.rmtree(ws / ".mlrecipes" / "checkouts")
    shutil.rmtree(ws / ".mlrecipes" / "envs")
    text = lock.read_bytes()
    before = _disk(ws)
    cloned = cli("run", "--dry-run", "-S", "fit.lr=0.3", cwd=ws)
    assert cloned.returncode == 0, cloned.stdout + cloned.stderr
    assert _disk(ws) == before and lock.read_bytes() == text
    assert "a run would check out" in cloned.stdout, cloned.stdout


_WAITING_STEP = """\
import importlib
import time
from pathlib import Path


def wait(out: Path, started: str, go: str) -> dict:
    Path(started).write_text("started")
    while not Path(go).exists():  # the test says when
        time.sleep(0.02)
    value = importlib.import_module("fx_value").VALUE  # read after the update was tried
    out.write_text(str(value))
    return {"value": value}
"""


def test_update_never_moves_a_checkout_under_a_running_step(tmp_path: Path) -> None:
    """Issue 25 item 11: `workspace update` while a step runs fails and moves nothing;
    the step reads the code of the commit its run records; update works afterwards."""
    fx = make_repo(
        tmp_path / "up" / "fx", {"fx_step.py": _WAITING_STEP, "fx_value.py": "VALUE = 1\n"}
    )
    old = git(fx, "rev-parse", "HEAD")
    started, go = tmp_path / "started", tmp_path / "go"
    manifest = write_manifest(
        tmp_path / "ws",
        f"""
        version: 1
        name: e2e
        repos:
          fx: {{url: ../up/fx, rev: main}}
        steps:
          s:
            fn: fx:fx_step.wait
            params: {{started: "{started}", go: "{go}"}}
            outs: {{out: v.txt}}
        """,
    )
    ws = Workspace.load(manifest)
    ws.sync()
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(ws.run()))
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while not started.exists():  # the step is running
            assert time.monotonic() < deadline and runner.is_alive()
            time.sleep(0.02)
        new = commit(fx, {"fx_value.py": "VALUE = 2\n"})
        update = cli("workspace", "update", "fx", cwd=manifest.parent)
        assert update.returncode == 1, update.stdout + update.stderr
        assert "in use by a running pipeline" in update.stderr, update.stderr
    finally:
        go.write_text("go")
        runner.join()
    (result,) = results
    assert result.results and [r.metrics["value"] for r in result.results.values()] == [1.0]
    assert git(manifest.parent / ".mlrecipes" / "checkouts" / "fx", "rev-parse", "HEAD") == old
    after = cli("workspace", "update", "fx", cwd=manifest.parent)
    assert after.returncode == 0 and f"{old[:7]} -> {new[:7]}" in after.stdout, after.stdout


def test_output_conflicts_are_found_before_any_step_runs(manifest: Path) -> None:
    """Issue 25 item 15: conflicts were found after the steps ran, and stopped other links."""
    out = manifest.parent / "outputs"
    out.mkdir()
    (out / "model.json").write_text("mine")
    (out / "note.txt").write_text("mine too")
    runner = CliRunner()
    refused = runner.invoke(app, ["run", "-f", str(manifest)])
    assert refused.exit_code == 1, refused.output
    said = " ".join(refused.output.split())
    assert "model.json already exists" in said and "note.txt already exists" in said
    assert executions(manifest) == []  # nothing ran, so no run is logged FINISHED
    assert (out / "model.json").read_text() == "mine"

    (out / "note.txt").unlink()
    (out / "model.json").unlink()
    assert runner.invoke(app, ["run", "-f", str(manifest)]).exit_code == 0
    (out / "model.json").unlink()
    (out / "model.json").write_text("mine")  # an unrelated file where one output goes
    (out / "note.txt").unlink()
    (out / "report").unlink()
    again = runner.invoke(app, ["run", "-f", str(manifest)])
    assert again.exit_code == 1, again.output
    assert (out / "note.txt").is_symlink() and (out / "report").is_symlink()  # the rest linked
    assert (out / "model.json").read_text() == "mine"


_INTRUDER_STEPS = """\
from pathlib import Path


def first(out: Path, intrude: str) -> dict:
    Path(intrude).parent.mkdir(parents=True, exist_ok=True)
    Path(intrude).write_text("not from mlrecipes")  # takes second's place mid-run
    out.write_text("first")
    return {"v": 1.0}


def second(before: Path, out: Path) -> dict:
    out.write_text("second after " + before.read_text())
    return {"v": 2.0}
"""


def test_a_conflict_that_appears_during_the_run_fails_the_parent_run(tmp_path: Path) -> None:
    """Issue 25 item 15: a place taken after the pre-check left the parent run FINISHED."""
    intruder = tmp_path / "ws" / "outputs" / "second.txt"
    manifest = make_one_repo_workspace(
        tmp_path,
        {"s.py": _INTRUDER_STEPS},
        "intrude",
        f"""
        first:
          fn: "s:s.first"
          params: {{intrude: "{intruder}"}}
          outs: {{out: !path out/first.txt}}
        second:
          fn: "s:s.second"
          deps: {{before: !out first.out}}
          outs: {{out: !path out/second.txt}}
        """,
        repo="s",
        head="paths: {out: outputs}\n",
    )
    result = CliRunner().invoke(app, ["run", "-f", str(manifest)])
    assert result.exit_code == 1, result.output
    assert "second.txt already exists" in " ".join(result.output.split())
    out = manifest.parent / "outputs"
    assert (out / "first.txt").is_symlink() and (out / "first.txt").read_text() == "first"
    assert intruder.read_text() == "not from mlrecipes"  # never overwritten
    parents, children = _runs(f"sqlite:///{Workspace.load(manifest).paths.mlflow_db}", "intrude")
    assert [p.info.status for p in parents] == ["FAILED"]  # matches exit 1
    assert {c.info.status for c in children} == {"FINISHED"}  # both steps did their work
