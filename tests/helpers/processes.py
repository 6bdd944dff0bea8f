"""The live processes of this machine, read from ``/proc`` (Linux)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def live_pids(matches: Callable[[bytes], bool]) -> list[int]:
    """Live (not zombie) processes whose command line (NUL-separated) ``matches``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if matches(cmdline) and state != "Z":
            found.append(int(proc.name))
    return found
