"""End-to-end paths a first-time user walks into (real repos, real runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import git, make_one_repo_workspace

from mlrecipes.core import Workspace

pytestmark = pytest.mark.slow

PKG = {
    "pkg/__init__.py": "",
    "pkg/steps.py": "def f() -> dict:\n    return {'v': 1.0}\n",
}


def test_running_a_dev_copy_leaves_its_tree_unchanged(
    tmp_path: Path, blank_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # steps write bytecode
    # A dev copy without a .gitignore: bytecode written into it would change its
    # tree SHA, so the next run would rerun every step of an unedited copy.
    manifest = make_one_repo_workspace(tmp_path, PKG, "w", 's: {fn: "a:pkg.steps.f"}')
    dev = tmp_path / "dev"
    git(tmp_path, "clone", "-q", str(tmp_path / "up" / "a"), str(dev))
    # Another size: a same-size edit in the clone's second can hide from git's stat check.
    (dev / "pkg" / "steps.py").write_text("def f() -> dict:\n    return {'v': 2.25}\n")
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    ws = Workspace.load(manifest, dev={"a": dev})
    assert ws.run().status == "FINISHED"
    assert git(dev, "status", "--porcelain", "--untracked-files=all") == "M pkg/steps.py"
    plan = Workspace.load(manifest, dev={"a": dev}).plan()
    assert not plan.to_run, [s.reasons for s in plan.to_run]


def test_up_to_date_run_restores_a_deleted_declared_output(
    tmp_path: Path, blank_mlflow_db: Path
) -> None:
    manifest = make_one_repo_workspace(
        tmp_path,
        {"w.py": "def f(out):\n    out.write_text('hello')\n"},
        "w",
        's: {fn: "a:w.f", outs: {out: !path out/hello.txt}}',
        head="paths: {out: outputs}\n",
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    assert Workspace.load(manifest).run().status == "FINISHED"
    declared = manifest.parent / "outputs" / "hello.txt"
    assert declared.read_text() == "hello"
    shutil.rmtree(declared.parent)

    again = Workspace.load(manifest).run()
    assert again.status == "UP_TO_DATE"
    assert declared.read_text() == "hello"
