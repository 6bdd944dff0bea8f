"""``mlrecipes reproduce`` end to end: real repos, real uv envs, a real MLflow store and server."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.mlflow_server import MlflowServer, mlflow_server_fixture
from tests.helpers.reproduce_repos import make_toy_repo, make_toy_workspace
from tests.helpers.workspaces import commit, git
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import RunOptions, Workspace
from mlrecipes.core.reproduce import compare_metrics, within
from mlrecipes.core.reproduce.materialize import rewrite_relative

mlflow_server = mlflow_server_fixture()


@dataclass(frozen=True)
class Origin:
    """A logged run to reproduce: its id, its store, the toy repo and the workspace folder."""

    run_id: str
    uri: str
    repo: Path
    manifest: Path


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The isolation of ``tests/conftest.py``, for module-scoped fixtures."""
    root = tmp_path_factory.mktemp("reproduce")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("GIT_", "MLFLOW_", "MLRECIPES_")):
                mp.delenv(name)
        gitconfig = root / "gitconfig"
        gitconfig.write_text(
            "[user]\n\tname = Test\n\temail = test@example.invalid\n"
            "[init]\n\tdefaultBranch = main\n"
        )
        mp.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.setenv("MLRECIPES_CACHE_DIR", str(root / "origin-cache"))
        mp.setenv("MLRECIPES_TRACKER_IDLE", "0")  # each run delivers its own; nothing lingers
        yield root


def _run(manifest: Path, *overrides: str, dev: dict[str, Path] | None = None) -> str:
    ws = Workspace.load(manifest, dev=dev)
    result = ws.run(options=RunOptions(overrides=overrides))
    assert result.status == "FINISHED"
    return result.run_ids[0]


@pytest.fixture(scope="module")
def origin(module_env: Path) -> Origin:
    """One pipeline run in the embedded store, with an override, from a relative repo URL."""
    repo = make_toy_repo(module_env / "toy")
    manifest = make_toy_workspace(module_env / "ws", url="../toy")
    run_id = _run(manifest, "score.bonus=0.5")
    uri = Workspace.load(manifest).run(options=RunOptions(dry_run=True)).tracking_uri
    return Origin(run_id, uri, repo, manifest)


def _reproduce(*args: str, cwd: Path | None = None) -> Any:
    if cwd is not None:
        os.chdir(cwd)
    return CliRunner().invoke(app, ["reproduce", *args])


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _reproduction_of(uri: str, run_id: str) -> Any:
    client = _client(uri)
    experiment = client.get_experiment_by_name("toy")
    found = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`mlrecipes.reproduces` = '{run_id}'"
    )
    assert found, f"no reproduction of {run_id}"
    return found[0]


# --- end to end ---------------------------------------------------------------------------


@pytest.mark.slow
def test_reproduces_in_a_new_folder_with_a_new_cache(origin: Origin, tmp_path: Path) -> None:
    cache = Path(os.environ["MLRECIPES_CACHE_DIR"])  # fresh for this test: a new machine
    assert not cache.exists()
    result = _reproduce(origin.run_id, "--tracking-uri", origin.uri)
    assert result.exit_code == 0, result.output
    assert "score" in result.output and "6.5" in result.output  # (3 words * 2) + 0.5
    assert "matches" in result.output
    assert any(cache.rglob("HEAD")), "the sources were fetched into the new mirror cache"
    run = _reproduction_of(origin.uri, origin.run_id)
    assert run.data.tags["mlrecipes.reproduce.result"] == "match"
    assert run.data.tags["mlrecipes.overrides"] == json.dumps({"score.bonus": "0.5"})
    assert run.data.tags["mlrecipes.repo.toy.commit"] == git(origin.repo, "rev-parse", "HEAD")
    local = _client(origin.uri).download_artifacts(
        run.info.run_id, "reproduce/comparison.json", str(tmp_path)
    )
    comparison = json.loads(Path(local).read_text())
    assert comparison["result"] == "match" and comparison["same_fingerprints"] is True
    assert {(m["step"], m["metric"]) for m in comparison["metrics"]} == {
        ("make", "n"),
        ("score", "half"),
        ("score", "score"),
    }


@pytest.mark.slow
def test_warm_work_folder_recomputes_nothing_and_says_so(origin: Origin, tmp_path: Path) -> None:
    workdir = tmp_path / "again"
    first = _reproduce(origin.run_id, "--tracking-uri", origin.uri, "--workdir", str(workdir))
    assert first.exit_code == 0, first.output
    assert "nothing was recomputed" not in first.output
    assert (workdir / "data" / "words.txt").resolve() == origin.manifest.parent / "data/words.txt"
    assert '"' + str(origin.repo) + '"' in (workdir / "workspace.yaml").read_text()

    warm = _reproduce(origin.run_id, "--tracking-uri", origin.uri, "--workdir", str(workdir))
    assert warm.exit_code == 0, warm.output
    assert "nothing was recomputed" in warm.output

    again = _reproduce(
        origin.run_id, "--tracking-uri", origin.uri, "--workdir", str(workdir), "--no-cache"
    )
    assert again.exit_code == 0, again.output
    assert "nothing was recomputed" not in again.output


@pytest.mark.slow
@pytest.mark.parametrize("content", ["lock", "other"])
def test_a_folder_that_is_not_empty_is_refused(
    origin: Origin, tmp_path: Path, content: str
) -> None:
    """Issue 16 item 16: `--workdir /etc` or someone's workspace is never written into."""
    workdir = tmp_path / "theirs"
    workdir.mkdir()
    name = "workspace.lock" if content == "lock" else "notes.txt"
    (workdir / name).write_text("mine\n")
    result = _reproduce(origin.run_id, "--tracking-uri", origin.uri, "--workdir", str(workdir))
    assert result.exit_code == 1, result.output
    assert "is not empty" in result.output
    assert sorted(p.name for p in workdir.iterdir()) == [name]
    assert (workdir / name).read_text() == "mine\n"


@pytest.mark.slow
def test_a_run_of_cache_hits_reproduces_from_its_parent_run(origin: Origin, tmp_path: Path) -> None:
    # Logged again with every step from the store: no child run, hits on the parent.
    shutil.rmtree(origin.manifest.parent / ".mlrecipes" / "runs")
    run_id = _run(origin.manifest, "score.bonus=0.5")
    assert run_id != origin.run_id
    client = _client(origin.uri)
    parent = client.get_run(run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert children == []
    assert parent.data.tags["mlrecipes.steps.score.cache"] == "hit"
    result = _reproduce(run_id, "--tracking-uri", origin.uri, "--workdir", str(tmp_path / "w"))
    assert result.exit_code == 0, result.output
    local = client.download_artifacts(
        _reproduction_of(origin.uri, run_id).info.run_id,
        "reproduce/comparison.json",
        str(tmp_path),
    )
    compared = json.loads(Path(local).read_text())["metrics"]
    assert {(m["step"], m["metric"]) for m in compared} == {
        ("make", "n"),
        ("score", "half"),
        ("score", "score"),
    }
    assert all(m["logged"] is not None for m in compared)


@pytest.mark.slow
def test_a_nondeterministic_step_is_drift(origin: Origin) -> None:
    noisy = _run(origin.manifest, "score.bonus=0.5", "score.noise=1.0")
    result = _reproduce(noisy, "--tracking-uri", origin.uri)
    assert result.exit_code == 5, result.output
    assert "drift" in result.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in result.output.splitlines()]
    drifted = {(r[0], r[1]) for r in rows if len(r) == 6 and r[5] == "drift"}
    assert drifted == {("score", "score")}, result.output
    kept = Path(result.output.split("work folder kept: ")[1].split()[0].rstrip("]"))
    assert (kept / "workspace.yaml").is_file()  # kept on drift, for a look
    shutil.rmtree(kept)
    run = _reproduction_of(origin.uri, noisy)
    assert run.data.tags["mlrecipes.reproduce.result"] == "drift"
    # within a tolerance wider than the noise, the same run reproduces
    tolerant = _reproduce(noisy, "--tracking-uri", origin.uri, "--atol", "1.0")
    assert tolerant.exit_code == 0, tolerant.output


@pytest.mark.slow
def test_a_commit_gone_from_the_source_is_a_clear_error(
    origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(origin.repo, "checkout", "-q", "-b", "doomed")
    gone = commit(origin.repo, {"pkg/toy/extra.py": "X = 1\n"}, "doomed change")
    git(origin.repo, "checkout", "-q", "main")
    manifest = make_toy_workspace(
        tmp_path / "ws2", url=str(origin.repo), rev="doomed", tracking_uri=origin.uri
    )
    run_id = _run(manifest)
    git(origin.repo, "branch", "-D", "doomed")
    git(origin.repo, "reflog", "expire", "--expire=now", "--all")
    git(origin.repo, "gc", "-q", "--prune=now")
    monkeypatch.setenv("MLRECIPES_CACHE_DIR", str(tmp_path / "new-machine-cache"))
    result = _reproduce(run_id, "--tracking-uri", origin.uri)
    assert result.exit_code == 1, result.output
    assert gone[:7] in result.output and "no longer reachable" in result.output


@pytest.mark.slow
def test_a_run_from_a_dirty_working_copy_is_refused(origin: Origin, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    git(tmp_path, "clone", "-q", str(origin.repo), str(copy))
    (copy / "pkg" / "toy" / "steps.py").write_text(
        (copy / "pkg" / "toy" / "steps.py").read_text().replace("n / 2", "n / 4")
    )
    manifest = make_toy_workspace(tmp_path / "ws3", url=str(origin.repo), tracking_uri=origin.uri)
    run_id = _run(manifest, dev={"toy": copy})
    client = _client(origin.uri)
    children = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
    )
    assert children  # a dev copy's step runs say dirty everywhere the parent does
    for child in children:
        assert child.data.tags["mlrecipes.dirty"] == "true"
        assert child.data.tags["mlrecipes.repo.toy.dirty"] == "true"
    result = _reproduce(run_id, "--tracking-uri", origin.uri)
    assert result.exit_code == 1, result.output
    assert "dirty local working copy of repo(s) toy" in result.output


@pytest.mark.slow
def test_run_frozen_fails_when_the_lock_does_not_cover_the_manifest(origin: Origin) -> None:
    text = origin.manifest.read_text()
    moved = origin.manifest.with_name("moved.yaml")
    moved.write_text(text.replace("rev: main", "rev: v9"))
    origin.manifest.with_suffix(".lock").rename(moved.with_suffix(".lock"))
    try:
        result = CliRunner().invoke(app, ["run", "--frozen", "-f", str(moved)])
        assert result.exit_code == 1, result.output
        assert "does not cover repo(s) toy" in result.output
    finally:
        moved.with_suffix(".lock").rename(origin.manifest.with_suffix(".lock"))


@pytest.mark.slow
def test_reproduces_against_a_real_mlflow_server(
    module_env: Path, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    repo = make_toy_repo(tmp_path / "toy")
    manifest = make_toy_workspace(tmp_path / "ws", url="../toy", tracking_uri=mlflow_server.url)
    run_id = _run(manifest)
    env_uri = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    os.environ.update(env_uri)  # the default when --tracking-uri is not given
    try:
        result = _reproduce(run_id)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert result.exit_code == 0, result.output
    run = _reproduction_of(mlflow_server.url, run_id)
    assert run.data.tags["mlrecipes.repo.toy.commit"] == git(repo, "rev-parse", "HEAD")
    assert run.data.tags["mlrecipes.reproduce.result"] == "match"


# --- units ---------------------------------------------------------------------------------


def test_tolerances_follow_isclose() -> None:
    assert within(1.0, 1.0, rtol=0, atol=0)
    assert not within(1.0, 1.0 + 1e-12, rtol=0, atol=0)
    assert within(100.0, 101.0, rtol=0.01, atol=0)
    assert not within(100.0, 101.5, rtol=0.01, atol=0)
    assert within(0.0, 0.5, rtol=0, atol=0.5)
    assert within(float("nan"), float("nan"), rtol=0, atol=0)
    assert not within(float("nan"), 1.0, rtol=1, atol=1)


def test_a_metric_on_one_side_only_is_drift() -> None:
    rows = compare_metrics({"a": {"x": 1.0, "gone": 2.0}}, {"a": {"x": 1.0}, "b": {"new": 3.0}})
    by_name = {(r.step, r.metric): r for r in rows}
    assert by_name["a", "x"].matches and by_name["a", "x"].difference == 0.0
    assert not by_name["a", "gone"].matches and by_name["a", "gone"].reproduced is None
    assert not by_name["b", "new"].matches and by_name["b", "new"].difference is None


def test_rewrite_touches_only_relative_urls_and_read_only_outside_roots() -> None:
    text = (
        "version: 1\nname: x\npaths: {raw: ../data, out: ../outs}\n"
        "repos:\n  a: {url: ../a, rev: main}  # keep me\n"
        "  b:\n    url: 'https://host/b.git'\n    rev: v1\n"
        "  c: {url: !env C_URL, rev: main}\n"
    )
    out = rewrite_relative(text, Path("/w/ws"), written_roots={"out"})
    assert 'url: "/w/a", rev: main}  # keep me' in out
    assert 'raw: "/w/data", out: ../outs' in out
    assert "url: 'https://host/b.git'" in out and "!env C_URL" in out
