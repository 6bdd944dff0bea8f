"""A new user's first hour (issue 15): commits told truthfully, dry-run reasons, sweep
labels, global options anywhere, errors once, prose help, init, completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import commit, git, make_repo, write_manifest
from typer.testing import CliRunner

from mlrecipes.cli.main import app

pytestmark = pytest.mark.slow

STEP = "def f(x: int = 1, y: int = 2) -> dict:\n    return {'v': float(x * 10 + y)}\n"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.fixture
def ws(tmp_path: Path, blank_mlflow_db: Path) -> Path:
    make_repo(tmp_path / "up" / "a", {"moda.py": STEP})
    manifest = write_manifest(
        tmp_path / "ws",
        """
        version: 1
        name: w
        params: {seed: 1}
        repos:
          a: {url: ../up/a, rev: main}
        steps:
          s: {fn: "a:moda.f", params: {x: 1, y: 2}}
        """,
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    return manifest


def test_new_commit_upstream_shows_in_status_run_and_update(ws: Path, tmp_path: Path) -> None:
    ok("run", "-f", str(ws))
    old = git(tmp_path / "up" / "a", "rev-parse", "HEAD")
    new = commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v2\n"})
    offline = ok("workspace", "status", "--offline", "-f", str(ws))
    assert "update" not in offline  # nothing was asked, nothing fetched: nothing known yet
    status = ok("workspace", "status", "-f", str(ws))
    assert old[:7] in status and old[:8] not in status  # one commit length: git's 7
    assert f"main is at {new[:7]}" in status
    assert "mlrecipes workspace update a" in status
    run = ok("run", "-f", str(ws))
    assert "up to date" in run and "mlrecipes workspace update a" in run
    newest = commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v3\n"})
    update = ok("workspace", "update", "-f", str(ws))
    assert f"a: {old[:7]} -> {newest[:7]} (2 commits)" in update
    # What `status` recorded (new) is older than the lock now: old news, no hint.
    assert "workspace update" not in ok("run", "-f", str(ws))
    after = ok("workspace", "status", "-f", str(ws))
    assert "up to date" in after and "workspace update" not in after


def test_run_hints_from_what_another_fetch_saw(ws: Path, tmp_path: Path) -> None:
    ok("run", "-f", str(ws))
    new = commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v2\n"})
    commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v3\n"})
    # Another workspace syncing the same repo fetches into the shared mirror.
    other = write_manifest(
        tmp_path / "other",
        f"""
        version: 1
        name: o
        repos:
          a: {{url: {tmp_path / "up" / "a"}, rev: main}}
        """,
    )
    ws.write_text(ws.read_text().replace("../up/a", str(tmp_path / "up" / "a")))
    ok("workspace", "update", "-f", str(ws))  # the lock now pins the url as written
    git(tmp_path / "up" / "a", "reset", "-q", "--hard", new)
    commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v4\n"})
    ok("workspace", "sync", "-f", str(other))
    run = ok("run", "-f", str(ws), "--dry-run")
    assert "upstream moved" in run and "mlrecipes workspace update a" in run


def test_update_names_old_and_new_commits(ws: Path, tmp_path: Path) -> None:
    ok("workspace", "sync", "-f", str(ws))
    old = git(tmp_path / "up" / "a", "rev-parse", "HEAD")
    commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v2\n"})
    new = commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v3\n"})
    update = ok("workspace", "update", "a", "-f", str(ws))
    assert f"a: {old[:7]} -> {new[:7]} (2 commits)" in update


def test_dry_run_after_a_sweep_lists_only_what_differs(ws: Path) -> None:
    ok("run", "-f", str(ws))
    ok("run", "-f", str(ws), "-S", "s.x=5,6")
    dry = ok("run", "-f", str(ws), "--dry-run", "-S", "s.y=3")
    assert "params changed: y: 2 -> 3" in dry
    assert "x:" not in dry  # the baseline is nearest, not the last sweep variant
    baseline = ok("run", "-f", str(ws), "--dry-run")
    assert "cached s" in baseline and "changed" not in baseline


def test_dry_run_names_commits_and_labels_trees(ws: Path, tmp_path: Path) -> None:
    ok("run", "-f", str(ws))
    old = git(tmp_path / "up" / "a", "rev-parse", "HEAD")
    new = commit(tmp_path / "up" / "a", {"moda.py": STEP + "# v2\n"})
    ok("workspace", "update", "-f", str(ws))
    dry = ok("run", "-f", str(ws), "--dry-run")
    assert f"code changed: a@{old[:7]} -> a@{new[:7]}" in dry
    assert "tree" not in dry
    ok("run", "-f", str(ws))
    work = tmp_path / "mywork"
    git(tmp_path, "clone", "-q", str(tmp_path / "up" / "a"), str(work))
    (work / "moda.py").write_text(STEP + "# edited\n")
    ok("workspace", "sync", "-f", str(ws), "--dev", "a=../mywork")  # a dry run builds nothing
    dev = ok("run", "-f", str(ws), "--dry-run", "--dev", "a=../mywork")  # from the manifest
    assert f"a@{new[:7]} (tree " in dev and "with uncommitted changes (tree " in dev


def test_every_line_of_a_sweep_names_its_variant(ws: Path) -> None:
    out = ok("run", "-v", "-f", str(ws), "-S", "s.x=5,6", "-S", "seed=1")
    started = [line for line in out.splitlines() if line.strip().startswith("start s")]
    assert len(started) == 2 and all("[variant " in line for line in started)
    assert "s [variant 0: s.x=5]" in out and "s [variant 1: s.x=6]" in out
    finished = [line for line in out.splitlines() if line.startswith("finished run")]
    assert len(finished) == 2 and all("[variant " in line for line in finished)
    dry = ok("run", "-f", str(ws), "--dry-run", "-S", "s.x=5,6")
    assert "variant 0: s.x=5" in dry and "variant 1: s.x=6" in dry


def test_global_options_before_and_after_the_command(ws: Path) -> None:
    after = ok("run", "-v", "-f", str(ws))
    assert "start" in after  # verbose: the steps' start lines
    assert "ok" in ok("-f", str(ws), "validate")
    assert "ok" in ok("validate", "-f", str(ws))


def test_a_rev_not_found_is_said_once_with_the_branches_and_tags(ws: Path, tmp_path: Path) -> None:
    git(tmp_path / "up" / "a", "tag", "v1")
    ws.write_text(ws.read_text().replace("rev: main", "rev: master"))
    result = invoke("run", "-f", str(ws))
    assert result.exit_code == 1
    assert result.output.count("rev 'master' not found") == 1, result.output
    assert "branches: main" in result.output and "tags: v1" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["run"], ["reproduce"], ["step", "run"], ["step", "call"], ["workspace", "sync"],
        ["workspace", "update"], ["workspace", "status"], ["exp", "show"], ["dag"], ["init"],
        [],
    ],
)  # fmt: skip
def test_help_reads_as_prose(command: list[str]) -> None:
    text = ok(*command, "--help")
    for python_type in ("<bool>", "<str>", "list[", "<int", "<float", "<file>", "<dir>"):
        assert python_type not in text
    assert "[default: 0.0]" not in text
    assert "{" not in text.splitlines()[0]  # usage: STEP, not typer's {STEP}


def test_step_run_prints_metrics_and_step_call_the_interpreter_once(ws: Path) -> None:
    out = ok("step", "run", "s", "-f", str(ws))
    assert "v = 12" in out
    call = ok("step", "call", "s", "-f", str(ws))
    assert call.count("# interpreter:") == 1


def test_init_then_validate_then_run_on_two_fresh_repos(
    tmp_path: Path, blank_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path / "feats", {"README.md": "feats\n"})
    make_repo(tmp_path / "models", {"pkg/README.md": "models\n"})
    folder = tmp_path / "ws"
    folder.mkdir()
    monkeypatch.chdir(folder)
    ok("init", "--repo", "feats=../feats", "--repo", "models=../models@main#pkg")
    assert ".mlrecipes/" in (folder / ".gitignore").read_text().splitlines()
    assert "ok" in ok("validate")
    refused = invoke("init")
    assert refused.exit_code == 1 and "already exists" in refused.output
    # The function the manifest's comment shows, committed in the first repo:
    text = (folder / "workspace.yaml").read_text()
    snippet = [ln.removeprefix("    #   ") for ln in text.splitlines() if ln.startswith("    #   ")]
    commit(tmp_path / "feats", {"hello.py": "\n".join(snippet) + "\n"})
    seed_mlflow_db(blank_mlflow_db, folder)
    run = ok("run")
    assert "chars=5" in run
    assert (folder / "outputs" / "hello.txt").read_text() == "hello, world\n"


def _complete(words: str, cwd: Path) -> list[str]:
    script = Path(sys.executable).parent / "mlrecipes"
    env = {
        **os.environ,
        "_MLRECIPES_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = subprocess.run(
        [str(script)], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return done.stdout.split()


def test_shell_completion_of_step_names_and_override_keys(ws: Path) -> None:
    folder = ws.parent
    ws.write_text(ws.read_text() + "  train: {fn: 'a:moda.f', params: {x: 3}}\n")
    assert _complete("mlrecipes run ", folder) == ["s", "train"]
    assert _complete("mlrecipes step run tr", folder) == ["train"]
    assert _complete("mlrecipes run --force ", folder) == ["s", "train"]
    assert _complete("mlrecipes run -S ", folder) == ["s.x=", "s.y=", "train.x=", "seed="]
    assert _complete(f"mlrecipes run -f {ws} -S tr", ws.parent.parent) == ["train.x="]


def test_completion_imports_nothing_heavy(ws: Path) -> None:
    code = (
        "import sys\n"
        "from mlrecipes.cli.main import app\n"
        "try:\n    app(prog_name='mlrecipes')\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('mlflow', 'git', 'networkx') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "_MLRECIPES_COMPLETE": "complete_bash",
        "COMP_WORDS": "mlrecipes run ",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ws.parent, env=env, capture_output=True, text=True
    )
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr
    assert "s" in done.stdout.split()


def test_a_failed_step_is_explained_once(ws: Path) -> None:
    result = invoke("run", "-f", str(ws), "-S", "+s.z=1")
    assert result.exit_code == 4
    assert result.output.count("does not accept") == 1, result.output
    assert "log: " in result.output


def test_status_says_when_a_remote_cannot_be_asked(ws: Path, tmp_path: Path) -> None:
    ok("workspace", "sync", "-f", str(ws))
    (tmp_path / "up" / "a").rename(tmp_path / "up" / "gone")
    status = invoke("workspace", "status", "-f", str(ws))
    assert status.exit_code == 0, status.output
    assert "not reachable" in status.output and "a: cannot ask upstream" in status.output
    assert "Traceback" not in status.output


def test_dev_path_is_relative_to_the_manifest_not_the_cwd(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "mywork"
    git(tmp_path, "clone", "-q", str(tmp_path / "up" / "a"), str(work))
    (work / "moda.py").write_text(STEP.replace("x * 10", "x * 100"))
    elsewhere = tmp_path / "some" / "deeper" / "folder"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    out = ok("run", "-f", str(ws), "--dev", "a=../mywork")  # ws/../mywork, like `url: ../up/a`
    assert "v=102" in out


def test_a_failed_step_names_itself_twice_and_points_at_its_log(ws: Path) -> None:
    """Issue 25 item 8: its ✗ line and one error line, and a hint naming the log's path."""
    ws.write_text(ws.read_text() + "  fitmodel: {fn: 'a:moda.f', params: {x: 3, q: 1}}\n")
    result = invoke("run", "fitmodel", "-f", str(ws))
    assert result.exit_code == 4, result.output
    lines = result.output.splitlines()
    logs = [ln.split("log: ", 1)[1].strip() for ln in lines if ln.startswith("  log: ")]
    assert len(logs) == 1 and Path(logs[0]).is_file(), result.output
    said = "\n".join(ln for ln in lines if not ln.startswith("  log: "))
    assert said.count("fitmodel") == 2, result.output  # its ✗ line and the error
    assert "log above" not in result.output, result.output  # only the log's path was shown
    assert "log file named above" in result.output, result.output


def test_run_says_once_that_steps_do_not_see_pythonpath(ws: Path) -> None:
    """Issue 25 item 5: PYTHONPATH is dropped for steps; a note says so when it is set."""
    noted = CliRunner().invoke(app, ["run", "--dry-run", "-f", str(ws)], env={"PYTHONPATH": "/x"})
    assert noted.exit_code == 0, noted.output
    assert noted.output.count("PYTHONPATH is set but not passed to steps") == 1, noted.output
    plain = CliRunner().invoke(app, ["run", "--dry-run", "-f", str(ws)], env={"PYTHONPATH": ""})
    assert "PYTHONPATH" not in plain.output, plain.output
