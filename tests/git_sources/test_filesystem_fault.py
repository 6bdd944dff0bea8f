"""A failed git write is classified by the file system it wrote to, not by git's wording.

Issue 25 item 18: git words a short write differently at each place that writes
(``index.lock``, ``config.lock``, a pack), so the disk is asked. A tiny tmpfs
and a read-only bind mount in a private mount namespace stand in for the faults.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from tests.helpers.mounts import needs_mounts, read_only, run_with_mount

from mlrecipes.git_sources._git import filesystem_fault

_ASK = (
    "import sys; from pathlib import Path; "
    "from mlrecipes.git_sources._git import filesystem_fault; "
    "print(filesystem_fault(Path(sys.argv[1])))"
)


def _ask_inside(mount: str, path: Path) -> str:
    ask = run_with_mount(mount, [sys.executable, "-c", _ASK, str(path)], timeout=120, check=True)
    return ask.stdout.strip()


def test_a_disk_with_room_is_no_fault(tmp_path: Path) -> None:
    assert filesystem_fault(tmp_path / "not" / "yet" / "made") is None


@needs_mounts
def test_a_full_tmpfs_is_a_full_disk_whatever_git_said(tmp_path: Path) -> None:
    disk = shlex.quote(str(tmp_path))
    fill = f"mount -t tmpfs -o size=256k tmpfs {disk} && (cat /dev/zero > {disk}/fill || true)"
    # the checkout itself was never made: the nearest existing folder is asked
    assert _ask_inside(fill, tmp_path / "co" / "app") == "the disk is full"
    roomy = f"mount -t tmpfs -o size=8m tmpfs {disk}"
    assert _ask_inside(roomy, tmp_path / "co" / "app") == "None"


@needs_mounts
def test_a_read_only_mount_is_named(tmp_path: Path) -> None:
    assert _ask_inside(read_only(tmp_path), tmp_path / "co") == "the file system is read-only"
