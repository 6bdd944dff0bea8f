"""Plain data passed between planning, the scheduler and the executors.

A :class:`StepTask` is one step execution with everything resolved: the
interpreter of its environment, the function, JSON-able parameters and
absolute input paths. A :class:`StepResult` is what came of it. Neither knows
about manifests, MLflow or subprocesses, so executors and tests build them
directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

StepStatus = Literal["ok", "failed", "killed", "skipped"]


@dataclass(frozen=True)
class StepTask:
    """One step execution, fully resolved.

    ``key`` is unique within one call of :func:`~mlrecipes.core.run.scheduler.run_tasks`
    (the fingerprint, so sweep variants that share a step run it once);
    ``needs`` names the keys that must succeed first. ``outputs`` are paths
    relative to the store entry; ``env`` holds extra environment variables
    (e.g. ``MLFLOW_RUN_ID``), usually filled by the scheduler's ``prepare`` hook.
    """

    key: str
    step: str
    fingerprint: str
    python: Path
    cwd: Path
    module: str
    func: str
    params: Mapping[str, Any]
    inputs: Mapping[str, Path]
    outputs: Mapping[str, str]
    env: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    label: str = ""
    unavailable: str | None = None
    """Set when the step cannot start (its environment failed): it fails with this text."""
    code_roots: Mapping[str, Path] = field(default_factory=dict)
    """Checkouts (repo -> folder) inside which the runner records what the step reads
    (:mod:`mlrecipes.core.codedeps`); empty: nothing is recorded (the tree rule)."""
    code_key: str | None = None
    """The step's key without its code, under which the store indexes the entry."""
    repo: str = ""
    """The repo whose environment runs the step (Ray's ``store`` mode builds it on the node)."""
    input_ids: Mapping[str, str] = field(default_factory=dict)
    """Each input's identity (``step:<fp>/<out>`` or ``file:<sha256>``): how a node that
    does not see ``inputs`` fetches them from the team store."""

    @property
    def display(self) -> str:
        """The label if set, else the step name: what messages show."""
        return self.label or self.step


@dataclass(frozen=True)
class StepResult:
    """What one :class:`StepTask` came to.

    ``status`` is ``skipped`` when a task it needs did not succeed (or the run
    stopped first). ``entry`` is the published store entry (``ok`` only);
    ``log_path`` is kept on failure too. ``error`` holds the last lines of the
    traceback or the runner's one-line message. ``reused``: another process
    executed it meanwhile and this run took its entry.
    """

    key: str
    step: str
    status: StepStatus
    metrics: Mapping[str, float] = field(default_factory=dict)
    entry: Path | None = None
    log_path: Path | None = None
    duration: float = 0.0
    error: str | None = None
    reused: bool = False

    @property
    def ok(self) -> bool:
        """True when the step succeeded."""
        return self.status == "ok"
