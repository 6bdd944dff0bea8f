"""What a ``tune`` call returns: every trial of the study, and the best ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import optuna

TrialState = Literal["COMPLETE", "FAIL", "INTERRUPTED", "RUNNING"]

# Optuna user attributes of a trial: its parent run, why it failed, whether Ctrl-C ended it.
ATTR_RUN_ID = "mlrecipes.run_id"
ATTR_ERROR = "mlrecipes.error"
ATTR_INTERRUPTED = "mlrecipes.interrupted"


@dataclass(frozen=True)
class Trial:
    """One trial: a pipeline run with sampled params (``run_id`` is its MLflow parent run)."""

    number: int
    state: TrialState
    value: float | None
    params: Mapping[str, Any]
    run_id: str | None = None
    error: str | None = None

    @classmethod
    def from_optuna(cls, trial: optuna.trial.FrozenTrial) -> Trial:
        state: TrialState = "RUNNING"  # RUNNING or WAITING: another process, or a killed one
        if trial.state.name == "COMPLETE":
            state = "COMPLETE"
        elif trial.state.name == "FAIL":
            state = "INTERRUPTED" if trial.user_attrs.get(ATTR_INTERRUPTED) else "FAIL"
        return cls(
            number=trial.number,
            state=state,
            value=trial.value if state == "COMPLETE" else None,
            params=dict(trial.params),
            run_id=trial.user_attrs.get(ATTR_RUN_ID),
            error=trial.user_attrs.get(ATTR_ERROR),
        )

    @property
    def counts(self) -> bool:
        """Whether it counts towards ``--trials`` (finished, not cut short by Ctrl-C)."""
        return self.state in ("COMPLETE", "FAIL")


@dataclass(frozen=True)
class TuneResult:
    """A study after a ``tune`` call: all its trials (earlier calls' too), best first."""

    study: str
    storage: str  # without credentials
    objective: str
    direction: Literal["maximize", "minimize"]
    space: Mapping[str, str]
    trials: tuple[Trial, ...]
    ran: int  # trials this call ran
    tracking_uri: str
    experiment: str
    summary_run_id: str | None = None

    def ranked(self) -> list[Trial]:
        """Completed trials, best first (ties: the earlier trial first)."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        sign = -1.0 if self.direction == "maximize" else 1.0
        return sorted(done, key=lambda t: (sign * (t.value or 0.0), t.number))

    @property
    def best(self) -> Trial | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.state == "FAIL"]
