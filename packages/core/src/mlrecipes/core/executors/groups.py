"""Process groups of local steps, recorded so the next command can end what a killed run left.

A step runs in its own process group. When ``mlrecipes`` is killed with
``kill -9`` the kernel kills the step itself (``PR_SET_PDEATHSIG``), but not
the processes the step started: they stay in its group, reparented to init.
So each step's group is recorded when it starts (``<log>.group.json`` beside
its log: the group id, a random marker set in the step's environment, and the
owning ``mlrecipes`` process with its start time) and the record is removed
when the step ends. :func:`end_orphaned_groups`, run at the start of the next
``run``, kills the members of each group whose owner is dead, and only those
processes that carry the step's marker in their environment: a group id the
kernel has since given to an unrelated process is never touched. Linux only
(``/proc``); elsewhere records are written and removed but nothing is swept.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.atomic import write_json_atomic

MARKER_VAR = "MLRECIPES_STEP_GROUP"
"""Set in each local step's environment; its children inherit it."""
_PROC = Path("/proc")


def new_marker() -> str:
    return secrets.token_hex(8)


def record_path(log_path: Path) -> Path:
    return log_path.with_suffix(".group.json")


def record_group(log_path: Path, pgid: int, marker: str) -> Path:
    """Write the record of a step's group (removed by the caller when the step ends)."""
    path = record_path(log_path)
    owner = os.getpid()
    data = {"pgid": pgid, "marker": marker, "owner": owner, "owner_start": start_time(owner)}
    write_json_atomic(path, data, indent=None)
    return path


@dataclass(frozen=True)
class _Record:
    pgid: int
    marker: str
    owner: int
    owner_start: int | None


def end_orphaned_groups(store_root: Path) -> int:
    """Kill what steps of dead runs left in their groups; how many processes were killed."""
    if not _PROC.is_dir() or not store_root.is_dir():
        return 0
    killed = 0
    for path in store_root.glob("*/.logs/*.group.json"):
        record = _read(path)
        if record is not None and process_alive(record.owner, record.owner_start):
            continue  # a live run's step: not ours to end
        if record is not None:
            killed += _kill_marked(record)
        with contextlib.suppress(OSError):
            path.unlink()
    return killed


def _read(path: Path) -> _Record | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _Record(int(data["pgid"]), str(data["marker"]), int(data["owner"]),
                       data.get("owner_start"))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _kill_marked(record: _Record) -> int:
    needle = f"{MARKER_VAR}={record.marker}".encode()
    killed = 0
    for pid in _members(record.pgid):
        try:
            environ = (_PROC / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def _members(pgid: int) -> Iterator[int]:
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and _stat(int(entry.name), 4) == pgid:
            yield int(entry.name)


def process_alive(pid: int, start: int | None) -> bool:
    """True when ``pid`` runs and (when ``start`` is given) started at ``start`` (no reuse)."""
    state = _stat(pid, 2)
    if state is None or state in (b"Z", b"X"):
        return False
    return start is None or start_time(pid) == start


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (None: gone or not Linux)."""
    value = _stat(pid, 21)
    return value if isinstance(value, int) else None


def _stat(pid: int, field: int) -> int | bytes | None:
    """Field ``field`` (0-based, as in proc(5) minus one) of ``/proc/<pid>/stat``."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # the command name (field 1) is in parentheses and may hold spaces
    rest = raw[raw.rfind(b")") + 2 :].split()
    value = rest[field - 2] if len(rest) > field - 2 else None
    if value is None or field == 2:
        return value
    return int(value)
