"""Runs left RUNNING by a process that died (``kill -9``, an OOM kill): found and ended.

While a ``run`` logs, the tracker keeps ``.mlrecipes/live/<pid>.json``: the
orchestrator's pid and start time, the tracking URI and the ids of the runs it
has open. The file goes when the last run ends. The next tracker that opens
the same store ends the runs of every record whose process is gone (or whose
pid now belongs to another process: the start time differs) as KILLED, with a
note saying why, and removes the record.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEAD_NOTE = "ended by mlrecipes: the process that ran it (pid {pid}) died without ending it"


def process_start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, from /proc); None if gone.

    Where /proc is missing, "alive" is all we can say: an empty string.
    """
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _alive_elsewhere(pid)
    except OSError:
        return ""
    # The command name (2nd field) may hold spaces and parentheses: split after it.
    fields = text[text.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def _alive_elsewhere(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""
    return ""


@dataclass
class LiveRuns:
    """The record of one orchestrator's open runs (see module doc)."""

    folder: Path
    tracking_uri: str
    pid: int
    start_time: str

    def __post_init__(self) -> None:
        self._runs: list[str] = []

    @classmethod
    def for_process(cls, folder: Path, tracking_uri: str, pid: int) -> LiveRuns:
        return cls(folder, tracking_uri, pid, process_start_time(pid) or "")

    @property
    def path(self) -> Path:
        return self.folder / f"{self.pid}.json"

    def add(self, run_id: str) -> None:
        self._runs.append(run_id)
        self._write()

    def discard(self, run_id: str) -> None:
        if run_id in self._runs:
            self._runs.remove(run_id)
            self._write()

    def _write(self) -> None:
        if not self._runs:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = {
            "pid": self.pid,
            "start_time": self.start_time,
            "tracking_uri": self.tracking_uri,
            "runs": self._runs,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".live-", dir=self.folder)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        Path(tmp).replace(self.path)


def dead_records(folder: Path, tracking_uri: str) -> list[tuple[Path, int, list[str]]]:
    """``(record, pid, run ids)`` of every record of ``tracking_uri`` whose process is gone."""
    found: list[tuple[Path, int, list[str]]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            data = json.loads(path.read_text())
            pid, started, uri = int(data["pid"]), str(data["start_time"]), data["tracking_uri"]
            runs = [str(r) for r in data["runs"]]
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                path.unlink()  # a torn or foreign file: it cannot name runs to end
            continue
        if uri != tracking_uri:
            continue
        now = process_start_time(pid)
        if now is None or (now and started and now != started):
            found.append((path, pid, runs))
    return found


def end_dead_runs(client: Any, folder: Path, tracking_uri: str) -> list[str]:
    """End the runs of dead processes (KILLED, with a note); the ids that were ended."""
    from mlrecipes.core.tracking.base import TAG_NOTE

    ended: list[str] = []
    for path, pid, runs in dead_records(folder, tracking_uri):
        for run_id in runs:
            try:
                run = client.get_run(run_id)
            except Exception:  # noqa: S112 (deleted meanwhile: nothing to end)
                continue
            if run.info.status == "RUNNING":
                client.set_tag(run_id, TAG_NOTE, DEAD_NOTE.format(pid=pid))
                client.set_terminated(run_id, status="KILLED")
                ended.append(run_id)
        path.unlink(missing_ok=True)
    return ended
