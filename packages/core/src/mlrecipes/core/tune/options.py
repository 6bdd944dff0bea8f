"""What ``tune`` takes (kept light: the CLI imports it at start-up, Optuna is not)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mlrecipes.core.run.options import RunOptions

Sampler = Literal["tpe", "random", "grid"]


@dataclass(frozen=True)
class TuneOptions:
    """What ``mlrecipes tune`` takes; ``run`` holds the options of each trial's run.

    ``trials`` is the study's total number of finished trials (completed or
    failed): a study that has them all runs nothing more.
    """

    space: Sequence[str]
    objective: str
    direction: Literal["maximize", "minimize", "max", "min"]
    trials: int
    jobs: int = 1
    study: str | None = None
    sampler: Sampler = "tpe"
    seed: int | None = None
    storage: str | None = None
    run: RunOptions = field(default_factory=RunOptions)
    summary: bool = True  # log the study's summary run to MLflow
