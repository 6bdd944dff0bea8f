"""The objective (``STEP.METRIC``) and one trial: a pipeline run through ``Workspace.run``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlrecipes.core.errors import StepFailed, UnknownStepError, UserError
from mlrecipes.core.events import EventHandler
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.manifest.graph import StepGraph
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.compose import RunServices
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.run.pipeline import run_pipeline
from mlrecipes.core.store.local import Store
from mlrecipes.core.suggest import did_you_mean
from mlrecipes.core.sync.workspace_sync import SyncResult


@dataclass(frozen=True)
class Objective:
    step: str
    metric: str

    def __str__(self) -> str:
        return f"{self.step}.{self.metric}"


def parse_objective(text: str, manifest: Manifest, targets: Sequence[str]) -> Objective:
    """``STEP.METRIC``; the step must exist and run when ``targets`` run."""
    step, dot, metric = text.partition(".")
    if not dot or not step or not metric:
        raise UserError(
            f"objective {text!r} is not STEP.METRIC", hint="e.g. `objective` evaluate.auc"
        )
    if step not in manifest.steps:
        raise UnknownStepError(step, known=list(manifest.steps))
    if targets:
        reached = StepGraph.from_manifest(manifest).upstream_closure(targets)
        if step not in reached:
            raise UserError(
                f"the objective's step {step!r} does not run up to {', '.join(targets)}",
                hint=did_you_mean(step, reached) + " (or add it to the steps to run)",
            )
    return Objective(step, metric)


@dataclass(frozen=True)
class TrialRun:
    """How one trial's pipeline run ended."""

    value: float | None
    run_id: str | None
    error: str | None = None


def run_trial(
    manifest: Manifest,
    paths: WorkspacePaths,
    synced: SyncResult,
    targets: Sequence[str],
    options: RunOptions,
    *,
    overrides: Sequence[str],
    tags: Mapping[str, str],
    objective: Objective,
    services: RunServices,
    on_event: EventHandler,
) -> TrialRun:
    """Run the pipeline for one trial; a failed step is a failed trial, not an error.

    Raises :class:`UserError` when the objective's step returned no such metric:
    every other trial would fail the same way.
    """
    trial_options = dataclasses.replace(
        options, overrides=tuple(overrides), extra_tags=dict(tags), new_run=True
    )
    try:
        result = run_pipeline(
            manifest, paths, synced, targets, trial_options, services=services, on_event=on_event
        )
    except StepFailed as exc:
        return TrialRun(None, None, error=exc.message)
    return TrialRun(_metric(paths, result, objective), result.run_ids[0])


def _metric(paths: WorkspacePaths, result: RunResult, objective: Objective) -> float:
    step = next(s for s in result.plan.variants[0].steps if s.step == objective.step)
    record = Store(paths.store).read_record(step.step, step.fingerprint)
    metrics = dict(record.metrics) if record else {}
    if objective.metric not in metrics:
        known = sorted(metrics)
        raise UserError(
            f"step {objective.step!r} returned no metric {objective.metric!r}",
            hint=did_you_mean(objective.metric, known) if known else "it returned no metrics",
        )
    return float(metrics[objective.metric])
