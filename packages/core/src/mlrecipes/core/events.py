"""Events the core emits while it syncs and runs; the CLI renders them.

The core never prints: it calls an ``on_event`` callback with these frozen
dataclasses (from worker threads too, so renderers must be thread-safe).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias


@dataclass(frozen=True)
class RepoProgress:
    """A repo's checkout or environment moved on (never carries credentials)."""

    repo: str
    phase: Literal["fetching", "checking-out", "building-env", "ready", "failed"]
    message: str = ""


@dataclass(frozen=True)
class RepoNote:
    """Something the user should know about a repo's environment, e.g. that the
    workspace pin of a used repo replaced the repo's own pin (names both commits)."""

    repo: str
    message: str


@dataclass(frozen=True)
class LockWritten:
    path: str
    changed: bool


@dataclass(frozen=True)
class PlanReady:
    """How many tasks will run and how many come from the store."""

    variants: int
    to_run: int
    cached: int
    labels: Mapping[str, str] = field(default_factory=dict)
    """Fingerprint -> the sweep variants it serves (empty without a sweep)."""
    remote: int = 0  # taken from the team store (not counted in ``to_run``)


@dataclass(frozen=True)
class StepStarted:
    step: str
    key: str
    label: str


@dataclass(frozen=True)
class StepWaiting:
    """Another run of the workspace is executing this step: its result will be reused."""

    step: str
    key: str
    label: str


@dataclass(frozen=True)
class StepFinished:
    step: str
    key: str
    status: Literal["ok", "cached", "failed", "killed", "skipped"]
    duration: float
    metrics: tuple[tuple[str, float], ...] = ()
    error: str | None = None
    log_path: str | None = None
    source_run: str | None = None  # ``cached`` from the team store: the run that made it
    code_note: str | None = None
    """What its code record said: the file that changed, or why a commit kept it cached."""


@dataclass(frozen=True)
class StepLog:
    """A line of a running step's output (only emitted when asked for, e.g. ``-v``)."""

    step: str
    line: str
    key: str = ""  # the execution (fingerprint), which names its sweep variants


@dataclass(frozen=True)
class TeamStoreNotice:
    """One line about the team store: why a step was not fetched or not shared."""

    message: str
    step: str | None = None


@dataclass(frozen=True)
class PipelineFinished:
    run_ids: tuple[str, ...]
    status: Literal["FINISHED", "FAILED", "KILLED", "UP_TO_DATE"]
    tracking_uri: str
    experiment: str


@dataclass(frozen=True)
class RunsWaiting:
    """Runs whose events are in the outbox, not yet all in MLflow, and why (one line)."""

    runs: int
    reason: str | None = None


@dataclass(frozen=True)
class TrialStarted:
    """A tuning trial starts: one pipeline run with these overrides."""

    study: str
    number: int
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class TrialFinished:
    study: str
    number: int
    state: Literal["COMPLETE", "FAIL", "INTERRUPTED"]
    value: float | None
    run_id: str | None
    error: str | None = None


@dataclass(frozen=True)
class TrialsDraining:
    """Ctrl-C during parallel trials: no new trial starts; ``running`` ones finish first."""

    study: str
    running: int


Event: TypeAlias = (
    RepoProgress
    | RepoNote
    | LockWritten
    | PlanReady
    | StepStarted
    | StepWaiting
    | StepFinished
    | StepLog
    | TeamStoreNotice
    | PipelineFinished
    | RunsWaiting
    | TrialStarted
    | TrialFinished
    | TrialsDraining
)
EventHandler: TypeAlias = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default handler: drop the event."""
