"""Following running steps' log files, for ``run -v`` (``StepLog`` events)."""

from __future__ import annotations

import threading
from pathlib import Path

from mlrecipes.core.events import EventHandler, StepLog

_POLL = 0.1  # seconds between reads of a quiet log


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
        """Stop following ``key`` once what is already written has been emitted."""
        stop, thread = self._stops.pop(key, None), self._threads.pop(key, None)
        if stop is not None and thread is not None:
            stop.set()
            thread.join(timeout=5)

    def close(self) -> None:
        for key in list(self._stops):
            self.stop(key)

    def _tail(self, key: str, step: str, path: Path, stop: threading.Event) -> None:
        position, partial = 0, ""
        while True:
            done = stop.is_set()  # read once more after the stop, so nothing is lost
            try:
                with path.open("r", errors="replace") as fh:
                    fh.seek(position)
                    chunk = fh.read()
                    position = fh.tell()
            except FileNotFoundError:
                chunk = ""
            lines = (partial + chunk).split("\n")
            partial = lines.pop()
            for line in lines:
                self.on_event(StepLog(step, line, key))
            if done:
                if partial:
                    self.on_event(StepLog(step, partial, key))
                return
            stop.wait(_POLL)
