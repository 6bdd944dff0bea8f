"""The executor protocol: how the scheduler hands a step to something that runs it.

An executor runs one :class:`~mlrecipes.core.executors.task.StepTask` with the step
runner (:mod:`mlrecipes.core.executors.step_runner`) and reports an :class:`Outcome` through
a :class:`concurrent.futures.Future`, which the scheduler waits on without
polling. The protocol knows nothing of subprocesses, so a Ray executor fits it
(``ObjectRef.future()`` gives such a future).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mlrecipes.core.executors.task import StepTask

OutcomeStatus = Literal["ok", "failed", "killed"]
_TRACEBACK_LINES = 8  # how much of a traceback StepResult.error keeps


@dataclass(frozen=True)
class Outcome:
    """What an executor reports for one task (the scheduler adds store and timing)."""

    status: OutcomeStatus
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    code: Mapping[str, Any] | None = None
    """What the step read in the checkouts, hashed (a :class:`CodeRecord`'s JSON), if recorded."""


class Executor(Protocol):
    """Runs step tasks; the scheduler decides what to submit and when."""

    def submit(self, task: StepTask, *, tmp_entry: Path, log_path: Path) -> Future[Outcome]:
        """Start ``task`` writing its outputs under ``tmp_entry`` and its output to ``log_path``.

        The future never raises: failures and kills are outcomes. It resolves
        ``killed`` when :meth:`cancel_all` stopped the task.
        """
        ...

    def cancel_all(self) -> None:
        """Stop every submitted task that has not finished (returns at once).

        A second call stops them without grace.
        """
        ...

    def close(self) -> None:
        """Release resources; tasks still running are cancelled."""
        ...


def read_outcome(result_path: Path, *, returncode: int, log_path: Path) -> Outcome:
    """Turn the runner's result file and exit code into an :class:`Outcome`."""
    try:
        data = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("ok") is True and returncode == 0:
        return Outcome("ok", metrics={k: float(v) for k, v in data["metrics"].items()})
    if isinstance(data, dict) and data.get("ok") is False:
        return Outcome("failed", error=_error_text(data))
    if returncode < 0:
        why = f"killed by signal {-returncode}"
    else:
        why = f"runner exited with code {returncode} without a result"
    return Outcome("failed", error=f"{why}; see {log_path}")


def _error_text(data: Mapping[str, object]) -> str:
    """The last lines of the traceback, or the runner's one-line message."""
    tb = data.get("traceback")
    if isinstance(tb, str) and tb.strip() and data.get("kind") == "raised":
        return "\n".join(tb.rstrip().splitlines()[-_TRACEBACK_LINES:])
    return str(data.get("error") or "unknown error")
