"""`mlrecipes workspace sync|update|status`, `--locked`, `--frozen` and dev copies."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.helpers.workspaces import commit, git, make_repo, write_manifest
from typer.testing import CliRunner

from mlrecipes.cli.main import app

pytestmark = pytest.mark.slow

STEP = "def f() -> dict:\n    return {'v': 1.0}\n"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    make_repo(tmp_path / "up" / "a", {"moda.py": STEP, "requirements.txt": "six==1.16.0\n"})
    make_repo(tmp_path / "up" / "b", {"modb.py": STEP})
    return write_manifest(
        tmp_path / "ws",
        """
        version: 1
        name: w
        repos:
          a: {url: ../up/a, rev: main}
          b: {url: ../up/b, rev: main}
        steps:
          s: {fn: "a:moda.f"}
        """,
    )


def _lock(manifest: Path) -> dict[str, Any]:
    data = yaml.safe_load((manifest.parent / "workspace.lock").read_text())
    assert isinstance(data, dict)
    return data


def test_sync_writes_a_deterministic_lock_and_status_is_clean(ws: Path, tmp_path: Path) -> None:
    result = invoke("workspace", "sync", "-f", str(ws))
    assert result.exit_code == 0, result.output
    lock = _lock(ws)
    head = git(tmp_path / "up" / "a", "rev-parse", "HEAD")
    assert lock["repos"]["a"]["commit"] == head
    assert lock["repos"]["a"]["url"] == "../up/a"
    assert len(lock["repos"]["a"]["env"]) == 64
    text = (ws.parent / "workspace.lock").read_text()
    assert invoke("workspace", "sync", "-f", str(ws)).exit_code == 0
    assert (ws.parent / "workspace.lock").read_text() == text
    status = invoke("workspace", "status", "-f", str(ws))
    assert status.exit_code == 0
    rows = [line for line in status.output.splitlines() if line.strip().startswith(("│ a", "│ b"))]
    assert len(rows) == 2 and all("clean" in r and "ready" in r for r in rows)


def test_locked_fails_when_the_lock_would_change(ws: Path) -> None:
    assert invoke("workspace", "sync", "-f", str(ws)).exit_code == 0
    ws.write_text(
        ws.read_text().replace("b: {url: ../up/b, rev: main}", "b: {url: ../up/b, rev: v2}")
    )
    git(ws.parent.parent / "up" / "b", "tag", "v2")
    result = invoke("workspace", "sync", "--locked", "-f", str(ws))
    assert result.exit_code == 1
    assert "b" in result.output and "mlrecipes workspace sync" in result.output


def test_frozen_needs_a_lock_that_covers_the_manifest(ws: Path) -> None:
    result = invoke("workspace", "sync", "--frozen", "-f", str(ws))
    assert result.exit_code == 1
    assert "does not cover" in result.output


def test_frozen_and_plain_sync_keep_the_pin_and_update_moves_it(ws: Path, tmp_path: Path) -> None:
    assert invoke("workspace", "sync", "-f", str(ws)).exit_code == 0
    old = _lock(ws)["repos"]["b"]["commit"]
    new = commit(tmp_path / "up" / "b", {"modb.py": STEP + "# v2\n"})
    assert invoke("workspace", "sync", "--frozen", "-f", str(ws)).exit_code == 0
    assert invoke("workspace", "sync", "-f", str(ws)).exit_code == 0
    assert _lock(ws)["repos"]["b"]["commit"] == old
    result = invoke("workspace", "update", "b", "-f", str(ws))
    assert result.exit_code == 0, result.output
    assert _lock(ws)["repos"]["b"]["commit"] == new
    assert f"b: {old[:7]} -> {new[:7]} (1 commit)" in result.output


def test_hand_edited_checkout_is_dirty_and_sync_refuses_without_force(ws: Path) -> None:
    assert invoke("workspace", "sync", "-f", str(ws)).exit_code == 0
    (ws.parent / ".mlrecipes" / "checkouts" / "b" / "modb.py").write_text("# edited\n")
    assert "dirty" in invoke("workspace", "status", "-f", str(ws)).output
    commit(ws.parent.parent / "up" / "b", {"modb.py": STEP + "# v2\n"})
    refused = invoke("workspace", "update", "b", "-f", str(ws))
    assert refused.exit_code == 1 and "local changes" in refused.output
    forced = invoke("workspace", "sync", "--force", "-f", str(ws))
    assert forced.exit_code == 0, forced.output
    assert "clean" in invoke("workspace", "status", "-f", str(ws)).output


def test_dev_copy_from_local_file_is_used_as_is(ws: Path, tmp_path: Path) -> None:
    work = tmp_path / "mywork"
    git(tmp_path, "clone", "-q", str(tmp_path / "up" / "a"), str(work))
    (work / "moda.py").write_text(STEP.replace("1.0", "2.0"))
    (ws.parent / "workspace.local.yaml").write_text(
        textwrap.dedent(f"repos:\n  a: {{path: {work}}}\n")
    )
    status = invoke("workspace", "status", "-f", str(ws))
    assert "dev" in status.output
    result = invoke("run", "-f", str(ws))
    assert result.exit_code == 0, result.output
    assert "v=2" in result.output
    assert "a" not in _lock(ws)["repos"] or _lock(ws)["repos"]["a"]["url"] == "../up/a"


def test_dev_option_on_the_command_line(ws: Path, tmp_path: Path) -> None:
    work = tmp_path / "mywork"
    git(tmp_path, "clone", "-q", str(tmp_path / "up" / "a"), str(work))
    (work / "moda.py").write_text(STEP.replace("1.0", "3.0"))
    result = invoke("run", "-f", str(ws), "--dev", f"a={work}")
    assert result.exit_code == 0, result.output
    assert "v=3" in result.output


def test_unknown_dev_repo_is_a_user_error(ws: Path, tmp_path: Path) -> None:
    result = invoke("workspace", "sync", "-f", str(ws), "--dev", f"zz={tmp_path}")
    assert result.exit_code == 1
    assert "unknown repo 'zz'" in result.output


def test_sync_reinstall_rebuilds_the_named_environments_only(ws: Path) -> None:
    assert invoke("workspace", "sync", "-f", str(ws)).exit_code == 0
    envs = ws.parent / ".mlrecipes" / "envs"

    def created() -> dict[str, float]:
        found = {}
        for marker in envs.glob("*/.mlrecipes-env.json"):
            data = yaml.safe_load(marker.read_text())
            found[data["repo"]] = data["created"]
        return found

    before = created()
    result = invoke("workspace", "sync", "-f", str(ws), "--reinstall", "a")
    assert result.exit_code == 0, result.output
    after = created()
    assert after["a"] > before["a"] and after["b"] == before["b"]
    usage = invoke("workspace", "sync", "-f", str(ws), "a")
    assert usage.exit_code == 2 and "--reinstall" in usage.output
