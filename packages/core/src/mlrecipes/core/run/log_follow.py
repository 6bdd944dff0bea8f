"""Following running steps' log files, for ``run -v`` (``StepLog`` events)."""

from __future__ import annotations

import threading
from pathlib import Path

from mlrecipes.core.events import EventHandler, StepLog

_POLL = 0.1  # seconds between reads of a quiet log
_CHUNK = 1 << 20  # bytes read at a time, so a huge burst never sits in memory at once
# When the terminal falls this far behind a step's output (or the step ended with
# that much unread), the backlog is skipped with a notice naming the full log: a
# 50 MB burst would otherwise take minutes to print, or be cut off at exit.
TAIL_AFTER_END = 1 << 20


class LogFollower:
    """One thread per followed log; it emits each new line, then the rest when stopped."""

    def __init__(self, on_event: EventHandler) -> None:
        self.on_event = on_event
        self._stops: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}

    def follow(self, key: str, step: str, path: Path) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._tail, args=(key, step, path, stop), name=f"log-{step}", daemon=True
        )
        self._stops[key], self._threads[key] = stop, thread
        thread.start()

    def stop(self, key: str) -> None:
        """Stop following ``key`` once what is already written has been emitted
        (or skipped with a notice: see :data:`TAIL_AFTER_END`)."""
        stop, thread = self._stops.pop(key, None), self._threads.pop(key, None)
        if stop is not None and thread is not None:
            stop.set()
            thread.join()

    def close(self) -> None:
        for key in list(self._stops):
            self.stop(key)

    def _tail(self, key: str, step: str, path: Path, stop: threading.Event) -> None:
        position, partial = 0, ""
        while True:
            done = stop.is_set()  # read once more after the stop, so nothing is lost
            position, partial = self._skip_backlog(key, step, path, position, partial)
            chunk, position = _read(path, position)
            lines = (partial + chunk).split("\n")
            partial = lines.pop()
            for line in lines:
                self.on_event(StepLog(step, line, key))
            if len(chunk) >= _CHUNK:
                continue  # more is waiting: no pause
            if done:
                if partial:
                    self.on_event(StepLog(step, partial, key))
                return
            stop.wait(_POLL)

    def _skip_backlog(
        self, key: str, step: str, path: Path, position: int, partial: str
    ) -> tuple[int, str]:
        try:
            size = path.stat().st_size
        except OSError:
            return position, partial
        if size - position <= TAIL_AFTER_END:
            return position, partial
        skipped = size - TAIL_AFTER_END - position
        if partial:
            self.on_event(StepLog(step, partial, key))
        notice = f"[... {skipped:,} bytes of output skipped; the full log is {path} ...]"
        self.on_event(StepLog(step, notice, key))
        return size - TAIL_AFTER_END, ""


def _read(path: Path, position: int) -> tuple[str, int]:
    try:
        with path.open("r", errors="replace") as fh:
            fh.seek(position)
            chunk = fh.read(_CHUNK)
            return chunk, fh.tell()
    except FileNotFoundError:
        return "", position
