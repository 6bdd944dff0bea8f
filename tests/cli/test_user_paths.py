"""Paths a first-time user walks into: exit codes, messages, nothing left half-done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import commit, git, make_repo, write_manifest
from typer.testing import CliRunner

from mlrecipes.cli.main import app

pytestmark = pytest.mark.slow

STEP = "def f() -> dict:\n    return {'v': 1.0}\n"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _one_repo(tmp_path: Path, repo_extra: str = "") -> Path:
    make_repo(tmp_path / "up" / "a", {"moda.py": STEP})
    return write_manifest(
        tmp_path / "ws",
        f"""
        version: 1
        name: w
        repos:
          a: {{url: ../up/a, rev: main{repo_extra}}}
        steps:
          s: {{fn: "a:moda.f"}}
        """,
    )


def test_python_the_machine_lacks_is_a_user_error_not_a_crash(tmp_path: Path) -> None:
    manifest = _one_repo(tmp_path, ', python: "3.99"')
    result = invoke("workspace", "sync", "-f", str(manifest))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "3.99" in result.output and "'a'" in result.output
    assert "hint:" in result.output
    assert not (manifest.parent / "workspace.lock").exists()


def test_locked_refuses_before_moving_any_checkout(tmp_path: Path) -> None:
    manifest = _one_repo(tmp_path)
    assert invoke("workspace", "sync", "-f", str(manifest)).exit_code == 0
    upstream = tmp_path / "up" / "a"
    first = git(upstream, "rev-parse", "HEAD")
    commit(upstream, {"moda.py": STEP + "# two\n"})
    git(upstream, "tag", "v1")  # a rev at another commit than the locked one
    lock_text = (manifest.parent / "workspace.lock").read_text()
    manifest.write_text(manifest.read_text().replace("rev: main", "rev: v1"))

    result = invoke("workspace", "sync", "--locked", "-f", str(manifest))
    assert result.exit_code == 1, result.output
    assert "workspace.lock would change for repo(s) a" in result.output
    # Nothing moved: the lock and the checkout both still say the first commit.
    assert (manifest.parent / "workspace.lock").read_text() == lock_text
    checkout = manifest.parent / ".mlrecipes" / "checkouts" / "a"
    assert git(checkout, "rev-parse", "HEAD") == first
    lock: dict[str, Any] = yaml.safe_load(lock_text)
    assert lock["repos"]["a"]["commit"] == first


@pytest.fixture
def ran(tmp_path: Path, blank_mlflow_db: Path) -> Path:
    """A one-step workspace run once (metric ``s.v``)."""
    manifest = _one_repo(tmp_path)
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    result = invoke("run", "-f", str(manifest))
    assert result.exit_code == 0, result.output
    return manifest


def test_exp_show_sort_by_an_unknown_metric_says_so(ran: Path) -> None:
    result = invoke("exp", "show", "-f", str(ran), "--sort", "s.vv")
    assert result.exit_code == 1, result.output
    assert "no pipeline run has a metric 's.vv'" in result.output
    assert "did you mean 's.v'?" in result.output


def test_exp_show_sort_accepts_mlflow_quoted_metric(ran: Path) -> None:
    result = invoke("exp", "show", "-f", str(ran), "--sort", "metrics.`s.v`", "--csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split(",")[-2] == "1.0"


def test_exp_show_json_and_csv_together_is_a_usage_error(ran: Path) -> None:
    result = invoke("exp", "show", "-f", str(ran), "--json", "--csv")
    assert result.exit_code == 2, result.output
