"""Faults of the disk for real: commands in a private mount namespace (``unshare -m``).

Root ignores file modes, so a read-only *mount* and a tiny tmpfs stand in for a
read-only or full disk; tests marked ``needs_mounts`` skip where mount namespaces
are not allowed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(not _can_mount(), reason="needs mount namespaces")


def read_only(path: Path) -> str:
    """The shell commands that mount ``path`` read-only over itself."""
    p = shlex.quote(str(path))
    return f"mount --bind {p} {p} && mount -o remount,bind,ro {p}"


def run_with_mount(
    mount: str, command: Sequence[str], *, cwd: Path | None = None, timeout: float, check: bool
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` after the shell commands ``mount``, in a mount namespace of its own."""
    quoted = " ".join(shlex.quote(a) for a in command)
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{mount} && exec {quoted}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )
