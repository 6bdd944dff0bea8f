"""``init`` follows each repo's default branch (its HEAD) and says which it chose."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import commit, git
from typer.testing import CliRunner

from mlrecipes.cli.main import app

HELLO = (
    "from pathlib import Path\n\n"
    "def run(message: Path, greeting: str) -> dict:\n"
    "    message.write_text(f'{greeting}, world\\n')\n"
    "    return {'chars': len(greeting)}\n"
)


def _master_only(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "master")  # what plain `git init` makes with git 2.39
    commit(path, {"hello.py": HELLO}, "hello step")
    return path


@pytest.mark.slow
def test_init_on_a_master_only_repo_writes_master_and_the_first_run_works(
    tmp_path: Path, blank_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _master_only(tmp_path / "feats")
    bare = tmp_path / "models.git"
    git(tmp_path, "clone", "-q", "--bare", str(_master_only(tmp_path / "models-src")), str(bare))
    folder = tmp_path / "ws"
    folder.mkdir()
    monkeypatch.chdir(folder)
    runner = CliRunner()
    init = runner.invoke(
        app, ["init", "--repo", "feats=../feats", "--repo", f"models={bare.as_uri()}"]
    )
    assert init.exit_code == 0, init.output
    assert "feats: rev master (its default branch)" in init.output
    assert "models: rev master (its default branch)" in init.output
    text = (folder / "workspace.yaml").read_text()
    assert text.count('rev: "master"') + text.count("rev: master") == 2, text
    seed_mlflow_db(blank_mlflow_db, folder)
    run = runner.invoke(app, ["run"])
    assert run.exit_code == 0, run.output
    assert (folder / "outputs" / "hello.txt").read_text() == "hello, world\n"


def test_init_says_when_it_cannot_ask_and_falls_back_to_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["init", "--repo", "feats=../nowhere"])
    assert out.exit_code == 0, out.output
    assert "feats: rev main (could not ask for its default branch" in out.output
