"""The data a pipeline page is drawn from: no I/O, no MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

BoxStatus = Literal["executed", "hit", "remote", "failed", "skipped", "run", "cached"]
"""A step's status in a run (the first five) or in a plan (``run``, ``cached``)."""

STATUS_LABELS: Mapping[BoxStatus, str] = {
    "executed": "executed",
    "hit": "cache hit",
    "remote": "from the team store",
    "failed": "failed",
    "skipped": "skipped",
    "run": "will run",
    "cached": "cached",
}


@dataclass(frozen=True)
class StepBox:
    """One step as its box shows it; ``run_id`` is the run that made its outputs."""

    name: str
    fn: str
    status: BoxStatus
    repo: str
    commit: str = ""
    dirty: bool = False
    duration: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    run_id: str | None = None


@dataclass(frozen=True)
class Edge:
    """``source``'s outputs ``outputs`` feed ``target``."""

    source: str
    target: str
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class PipelineView:
    """A pipeline run (or plan): a title, a line under it, its steps and edges."""

    title: str
    steps: tuple[StepBox, ...]
    edges: tuple[Edge, ...] = ()
    subtitle: str = ""
