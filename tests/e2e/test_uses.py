"""``uses:``: repos installed into other repos' environments, and fingerprints that see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.uses_repos import (
    APP_FILES,
    LIB_FILES,
    PLAIN_FILES,
    make_mono_workspace,
    make_path_install_workspace,
    make_uses_workspace,
    plainlib,
)
from tests.helpers.workspaces import (
    cli,
    commit,
    counted_step,
    executions,
    git,
    make_counter_workspace,
    make_repo,
)
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import Workspace
from mlrecipes.core.events import RepoNote
from mlrecipes.core.sync.lock import lock_path_for, read_lock

pytestmark = pytest.mark.slow


def _children(uri: str, parent: str) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("e2e").experiment_id],  # type: ignore[union-attr]
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    return {r.data.tags["mlrecipes.step"]: r for r in runs}


def _statuses(ws: Workspace) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {s.step: (s.status, s.reasons) for s in ws.plan().variants[0].steps}


def test_used_repos_are_installed_and_their_commits_rerun_exactly_their_users(
    tmp_path: Path,
) -> None:
    manifest = make_uses_workspace(tmp_path)
    ws = Workspace.load(manifest)
    first = ws.run()
    assert first.results and {r.step: r.metrics for r in first.results.values()} == {
        "combo": {"value": 2.0, "six": 1.16},  # lib's own dependency came with it
        "solo": {"factor": 2.0},
    }
    lock = read_lock(lock_path_for(manifest))
    assert lock is not None and lock.repos["app"].uses == ("lib", "plain")
    assert {r.repo: r.environment for r in ws.status()} == dict.fromkeys(
        ("app", "lib", "plain"), "ready"
    )

    # A new commit in the packaged library: only the step whose env has it reruns.
    lib_commit = commit(tmp_path / "upstream" / "lib", {"gradlib/__init__.py": "VALUE = 10\n"})
    ws.sync(update=["lib"])
    status = _statuses(ws)
    assert status["combo"][0] == "run"
    assert status["combo"][1][0].startswith("used repo changed: lib@")
    assert status["solo"][0] == "cached"
    second = ws.run()
    assert sorted(executions(manifest)) == ["combo", "combo", "solo"]
    assert second.results and [r.metrics["value"] for r in second.results.values()] == [20.0]

    # Its child run names the commit of every repo whose code the step could import.
    child = _children(second.tracking_uri, second.run_ids[0])["combo"]
    assert child.data.tags["mlrecipes.repo.lib.commit"] == lib_commit
    assert "mlrecipes.repo.plain.tree" in child.data.tags
    assert child.data.tags["mlrecipes.repo.app.dirty"] == "false"

    # A new commit in the unpackaged one (on sys.path through a .pth): both its users rerun.
    commit(tmp_path / "upstream" / "plain", {"plainlib.py": plainlib(3)})
    ws.sync(update=["plain"])
    assert {s: v[0] for s, v in _statuses(ws).items()} == {"combo": "run", "solo": "run"}
    third = ws.run()
    assert third.results and {r.step: r.metrics for r in third.results.values()} == {
        "combo": {"value": 30.0, "six": 1.16},
        "solo": {"factor": 3.0},
    }
    # Nothing moved: nothing reruns.
    assert ws.run().up_to_date

    # The parent run holds every environment's package list, with sources and trees.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(third.tracking_uri)
    local = client.download_artifacts(third.run_ids[0], "mlrecipes/packages", str(tmp_path))
    packages = json.loads((Path(local) / "packages.json").read_text())
    app = {p["name"]: p for p in packages["app"]["packages"]}
    assert app["gradlib"]["repo"] == "lib" and app["gradlib"]["editable"] is True
    assert app["six"]["version"] == "1.16.0" and app["six"]["source"] == "index"
    assert any(p.get("repo") == "plain" for p in packages["app"]["packages"])


def test_uv_workspace_member_reruns_on_its_sibling_not_on_unrelated_folders(
    tmp_path: Path,
) -> None:
    manifest = make_mono_workspace(tmp_path)
    mono = tmp_path / "upstream" / "mono"
    ws = Workspace.load(manifest)
    assert ws.run().results
    commit(mono, {"docs/index.md": "# more docs\n"})
    ws.sync(update=["mono"])
    assert _statuses(ws)["tokenize"][0] == "cached"
    commit(mono, {"packages/shared/shared/__init__.py": "BASE = 5\n"})
    ws.sync(update=["mono"])
    status, reasons = _statuses(ws)["tokenize"]
    assert status == "run" and len(reasons) == 1
    assert reasons[0].startswith("package changed: shared 0.1.0 mono@"), reasons
    result = ws.run()
    assert result.results and [r.metrics for r in result.results.values()] == [{"base": 5.0}]
    assert executions(manifest) == ["tokenize", "tokenize"]


def test_moving_git_dependency_is_pinned_until_update(tmp_path: Path) -> None:
    dep = make_repo(tmp_path / "upstream" / "dep", {**LIB_FILES})
    make_repo(
        tmp_path / "upstream" / "app",
        {**APP_FILES, "requirements.txt": f"gradlib @ git+file://{dep}@main\n"},
    )
    manifest = make_counter_workspace(
        tmp_path,
        {"app": ""},
        counted_step("combo", "app:app.steps.combo", "v.txt"),
    )
    (tmp_path / "upstream" / "app" / "plainlib.py").write_text("FACTOR = 1\n")
    commit(tmp_path / "upstream" / "app", {}, "plainlib beside the app")
    ws = Workspace.load(manifest)
    assert ws.run().results
    first = git(dep, "rev-parse", "HEAD")
    lock = read_lock(lock_path_for(manifest))
    assert lock is not None and lock.repos["app"].git_refs == {f"file://{dep}@main": first}
    assert [r.environment for r in ws.status()] == ["ready"]

    second = commit(dep, {"gradlib/__init__.py": "VALUE = 4\n"})
    assert [r.environment for r in ws.status()] == ["stale"]  # its branch moved
    assert _statuses(ws)["combo"][0] == "cached"  # the lock still pins the first commit
    locked = git(tmp_path / "upstream" / "app", "rev-parse", "HEAD")
    updated = cli("workspace", "update", "app", cwd=manifest.parent)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    # The repo's commit stayed, its dependency moved: never "(unchanged)" (issue 25 item 5).
    assert "unchanged" not in updated.stdout, updated.stdout
    assert f"app: {locked[:7]}; dependency file://{dep}@main: {first[:7]} -> {second[:7]}" in (
        updated.stdout
    ), updated.stdout
    lock = read_lock(lock_path_for(manifest))
    assert lock is not None and lock.repos["app"].git_refs == {f"file://{dep}@main": second}
    status, reasons = _statuses(ws)["combo"]
    assert status == "run"
    assert reasons == (f"package changed: gradlib 0.1.0 git {first[:7]} -> 0.1.0 git {second[:7]}",)
    result = ws.run()
    assert result.results and [r.metrics["value"] for r in result.results.values()] == [4.0]
    assert [r.environment for r in ws.status()] == ["ready"]


def _sync_with_own_pin(root: Path, lib: Path, ref: str) -> tuple[Workspace, list[RepoNote]]:
    """app's own requirements pin gradlib at ``ref`` of ``lib`` (made already); the uses
    workspace synced, and the notes of its sync."""
    manifest = make_uses_workspace(
        root,
        app_files={"requirements.txt": f"gradlib @ git+file://{lib}@{ref}\n"},
        lib_exists=True,
    )
    notes: list[RepoNote] = []
    ws = Workspace.load(manifest)
    ws.sync(on_event=lambda e: notes.append(e) if isinstance(e, RepoNote) else None)
    return ws, notes


def test_workspace_pin_wins_over_the_repos_own_pin(tmp_path: Path) -> None:
    lib = make_repo(tmp_path / "upstream" / "lib", LIB_FILES)
    old = git(lib, "rev-parse", "HEAD")
    new = commit(lib, {"gradlib/__init__.py": "VALUE = 7\n"})
    ws, notes = _sync_with_own_pin(tmp_path, lib, old)
    assert len(notes) == 1 and notes[0].repo == "app"
    assert old[:12] in notes[0].message and new[:12] in notes[0].message
    result = ws.run()
    assert result.results
    combo = next(r for r in result.results.values() if r.step == "combo")
    assert combo.metrics["value"] == 14.0  # the workspace's lib (7), not the own pin's (1)
    child = _children(result.tracking_uri, result.run_ids[0])["combo"]
    assert child.data.tags["mlrecipes.repo.lib.commit"] == new


def test_a_broken_environment_fails_only_its_steps(tmp_path: Path) -> None:
    make_repo(tmp_path / "upstream" / "plain", PLAIN_FILES)
    make_repo(tmp_path / "upstream" / "broken", {"requirements.txt": "-e ./does-not-exist\n"})
    manifest = make_counter_workspace(
        tmp_path,
        {"plain": "", "broken": ""},
        counted_step("solo", "plain:plainlib.solo", "f.txt")
        + "  bad: {fn: 'broken:nothing.here', outs: {out: b.txt}}\n"
        + counted_step("after", "plain:plainlib.solo", "g.txt", "deps: {x: !out bad.out}, "),
    )
    ws_dir = manifest.parent
    done = cli("run", cwd=ws_dir)
    assert done.returncode == 4, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "bad" in output and "does-not-exist" in output  # the build log's tail
    assert "above" not in output and "no step ran" in output, output  # no step log exists
    assert executions(manifest) == ["solo"]  # independent steps ran; `after` was skipped
    alone = cli("run", "solo", cwd=ws_dir)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "uv environment" not in alone.stdout + alone.stderr  # broken was never built


def test_reproduce_a_run_that_used_other_repos_on_a_fresh_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = make_uses_workspace(tmp_path)
    commit(tmp_path / "upstream" / "lib", {"gradlib/__init__.py": "VALUE = 3\n"})
    result = Workspace.load(manifest).run()
    cache = tmp_path / "new-machine-cache"
    monkeypatch.setenv("MLRECIPES_CACHE_DIR", str(cache))
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        app, ["reproduce", result.run_ids[0], "--tracking-uri", result.tracking_uri]
    )
    assert done.exit_code == 0, done.output
    assert "matches" in done.output and "value" in done.output
    assert any(cache.rglob("HEAD")), "the used repos were fetched into the new cache"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("e2e").experiment_id],  # type: ignore[union-attr]
        filter_string=f"tags.`mlrecipes.reproduces` = '{result.run_ids[0]}'",
    )
    local = client.download_artifacts(
        runs[0].info.run_id, "reproduce/comparison.json", str(tmp_path)
    )
    # Another folder, another cache: the same code, so the same fingerprints.
    assert json.loads(Path(local).read_text())["same_fingerprints"] is True


def test_a_subset_of_targets_keeps_identities_and_the_lock(tmp_path: Path) -> None:
    """Issue 25 item 2: a path install into another workspace checkout (`-e ../gradlib`)
    is named by repo and tree in every sync, not by absolute path when that repo was
    not synced this time; `run fit --dry-run` and `step run fit` change no identity
    and leave the lock as the full run wrote it."""
    manifest = make_path_install_workspace(tmp_path)
    ws_dir = manifest.parent
    full = cli("run", cwd=ws_dir)
    assert full.returncode == 0, full.stdout + full.stderr
    lock_file = lock_path_for(manifest)
    written = lock_file.read_bytes()
    assert str(ws_dir) not in written.decode()
    dry = cli("run", "fit", "--dry-run", cwd=ws_dir)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    said = dry.stdout + dry.stderr
    assert "package changed" not in said and "cached fit" in said and "0 to run" in said, said
    assert lock_file.read_bytes() == written
    debug = cli("step", "run", "fit", cwd=ws_dir)
    assert debug.returncode == 0, debug.stdout + debug.stderr
    assert lock_file.read_bytes() == written
    assert _statuses(Workspace.load(manifest))["fit"][0] == "cached"


def test_reproduce_checks_out_a_repo_reached_by_a_path_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25 item 3: gradlib has no step, trainer installs `-e ../gradlib`."""
    manifest = make_path_install_workspace(tmp_path)
    result = Workspace.load(manifest).run()
    monkeypatch.setenv("MLRECIPES_CACHE_DIR", str(tmp_path / "new-machine-cache"))
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        app, ["reproduce", result.run_ids[0], "--tracking-uri", result.tracking_uri]
    )
    assert done.exit_code == 0, done.output
    assert "matches" in done.output


@pytest.mark.parametrize("own_ref", ["0" * 40, "no-such-branch"])
def test_the_workspace_pin_wins_before_a_broken_own_pin_is_tried(
    tmp_path: Path, own_ref: str
) -> None:
    """Issue 25 item 4: the repo's own requirements pin the used repo at a commit or
    branch that does not exist; the environment builds from the workspace's checkout."""
    lib = make_repo(tmp_path / "upstream" / "lib", LIB_FILES)
    new = commit(lib, {"gradlib/__init__.py": "VALUE = 7\n"})
    ws, notes = _sync_with_own_pin(tmp_path, lib, own_ref)
    assert len(notes) == 1 and own_ref in notes[0].message and new[:12] in notes[0].message
    result = ws.run(["combo"])
    assert result.results
    assert [r.metrics["value"] for r in result.results.values()] == [14.0]
