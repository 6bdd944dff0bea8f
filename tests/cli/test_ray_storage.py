"""``--ray-storage`` on ``run`` and ``tune``: store mode without a team store is a user error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrecipes.cli.main import app

MANIFEST = """
    version: 1
    name: t
    repos:
      r: {url: ../r, rev: main}
    steps:
      s: {fn: "r:m.f", params: {x: 1}}
"""


@pytest.mark.parametrize("command", ["run", "tune"])
def test_store_mode_without_a_team_store_fails_before_any_sync(
    tmp_path: Path, command: str
) -> None:
    manifest = tmp_path / "workspace.yaml"
    manifest.write_text(textwrap.dedent(MANIFEST))
    args = [command, "-f", str(manifest), "--executor", "ray", "--ray-storage", "store"]
    if command == "tune":
        args += [
            "-S",
            "s.x=choice(1,2)",
            "--objective",
            "s.m",
            "--direction",
            "max",
            "--trials",
            "1",
        ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "executor.storage: store moves data through the team store" in result.output
    assert "--serve-artifacts" in result.output
    assert not (tmp_path / ".mlrecipes" / "checkouts").exists()  # nothing synced


def test_ray_storage_takes_only_known_modes(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--ray-storage", "nfs"])
    assert result.exit_code == 2
