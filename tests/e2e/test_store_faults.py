"""Damaged, edited or odd store entries and deps (issue 16, items 8, 11, 12, 13)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from tests.helpers.workspaces import executions, make_workspace
from typer.testing import CliRunner

from mlrecipes.cli.main import app

pytestmark = pytest.mark.slow


def _run(manifest: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", "-f", str(manifest), *args])
    return result.exit_code, result.output


def _entry(manifest: Path, step: str) -> Path:
    folder = manifest.parent / ".mlrecipes" / "store" / step
    (entry,) = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return entry


def test_a_damaged_or_edited_entry_is_recomputed(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    assert _run(manifest)[0] == 0
    # A damaged completion marker: the entry counts as missing, never an internal error.
    (_entry(manifest, "make") / ".mlrecipes-complete.json").write_text('{"step": "ma')
    code, output = _run(manifest)
    assert code == 0, output
    assert executions(manifest).count("make") == 2

    # A finished entry is read-only, and one changed anyway is not served.
    table = _entry(manifest, "make") / "table.txt"
    assert not table.stat().st_mode & 0o222
    table.chmod(0o644)
    table.write_text("999\n")  # a step (or a user) writing into a finished entry
    code, output = _run(manifest)
    assert code == 0, output
    assert executions(manifest).count("make") == 3
    assert table.read_text() != "999\n"

    # An extra file in an entry is a change too.
    (_entry(manifest, "fit") / "model" / "extra.txt").write_text("x")
    assert _run(manifest)[0] == 0
    assert executions(manifest).count("fit") == 2  # once at first, once for the extra file


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "loop"])
def test_deps_that_are_not_files_are_refused_with_a_location(tmp_path: Path, kind: str) -> None:
    manifest = make_workspace(tmp_path)
    numbers = manifest.parent / "data" / "numbers.txt"
    numbers.unlink()
    if kind == "fifo":
        os.mkfifo(numbers)
    elif kind == "dev_zero":
        numbers.symlink_to("/dev/zero")
    else:
        numbers.symlink_to(numbers.name)
    code, output = _run(manifest, "--dry-run")  # must not hang reading it
    assert code == 1, output
    assert re.search(r"workspace\.yaml:\d+:\d+: step 'make'", output), output
    assert "internal error" not in output
