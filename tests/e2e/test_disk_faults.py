"""A read-only store and a full disk, for real (a private mount namespace), through the CLI.

Issue 16, items 9 and 10. Root ignores file modes, so a read-only *mount* and a
tiny tmpfs stand in for the faults; the tests skip where mount namespaces are
not allowed.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from tests.helpers.mounts import needs_mounts, read_only, run_with_mount
from tests.helpers.workspaces import CLI, make_workspace

from mlrecipes.core import Workspace

pytestmark = pytest.mark.slow


def _cli_with_mount(mount: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*CLI, *args]
    return run_with_mount(mount, command, cwd=cwd, timeout=600, check=False)


@needs_mounts
def test_a_read_only_store_is_a_user_error_naming_what_cannot_be_written(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    Workspace.load(manifest).run()
    store = manifest.parent / ".mlrecipes" / "store"
    cached = _cli_with_mount(read_only(store), manifest.parent, "run", "-f", str(manifest))
    assert cached.returncode == 0, cached.stderr  # fully cached: nothing to write there
    again = _cli_with_mount(
        read_only(store), manifest.parent, "run", "-f", str(manifest), "-S", "fit.lr=0.3"
    )
    assert again.returncode == 1, again.stdout + again.stderr
    assert "read-only file system" in again.stderr and str(store) in again.stderr
    assert "internal error" not in again.stderr


@needs_mounts
def test_a_full_disk_during_checkout_is_named_as_such(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    checkouts = manifest.parent / ".mlrecipes" / "checkouts"
    checkouts.mkdir(parents=True)
    tiny = f"mount -t tmpfs -o size=12k tmpfs {shlex.quote(str(checkouts))}"
    result = _cli_with_mount(tiny, manifest.parent, "workspace", "sync", "-f", str(manifest))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "disk is full" in result.stderr or "no space left" in result.stderr, result.stderr
    assert "local changes" not in result.stderr and "internal error" not in result.stderr
