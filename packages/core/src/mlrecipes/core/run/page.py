"""The pipeline page (``pipeline.html``) of a run or a plan, built from plain records.

:mod:`mlrecipes.core.view` draws it; this module only says, per step, what its
box shows: status, repo and commit of the code that ran, duration, metrics and
the run that made its outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.manifest.graph import StepGraph
from mlrecipes.core.plan.planner import Plan, PlannedStep, Variant
from mlrecipes.core.run.info import StepRecord, run_name
from mlrecipes.core.sync.workspace_sync import RepoContext
from mlrecipes.core.view import PAGE_NAME, BoxStatus, Edge, PipelineView, StepBox, render_pipeline


def edges(manifest: Manifest, names: set[str]) -> tuple[Edge, ...]:
    """The ``!out`` edges between ``names``, each named by the outputs it carries."""
    graph = StepGraph.from_manifest(manifest)
    return tuple(
        Edge(source, target, outs)
        for source, targets in sorted(graph.successors.items())
        for target, outs in sorted(targets.items())
        if source in names and target in names
    )


_CACHE_STATUS: Mapping[str, BoxStatus] = {"miss": "executed", "hit": "hit", "remote": "remote"}


def _box(
    step: PlannedStep,
    repos: Mapping[str, RepoContext],
    status: BoxStatus,
    *,
    duration: float | None = None,
    metrics: Mapping[str, float] | None = None,
    run_id: str | None = None,
) -> StepBox:
    ctx = repos.get(step.repo)  # None: its environment could not be built
    commit, dirty = (ctx.source.commit, ctx.source.dirty) if ctx is not None else ("", False)
    return StepBox(
        step.step, step.fn, status, step.repo, commit, dirty, duration, dict(metrics or {}), run_id
    )


def run_box(
    step: PlannedStep,
    record: StepRecord,
    result: StepResult | None,
    repos: Mapping[str, RepoContext],
    failed_run: str | None = None,
) -> StepBox:
    """A step of a finished variant: executed, hit, team store, failed or skipped."""
    duration = result.duration if result is not None and record.cache != "hit" else None
    status: BoxStatus
    run_id: str | None
    if record.cache is not None:
        status, run_id = _CACHE_STATUS[record.cache], record.source_run
    else:
        failed = result is not None and result.status in ("failed", "killed")
        status, run_id = ("failed", failed_run) if failed else ("skipped", None)
        duration = duration if failed else None
    return _box(step, repos, status, duration=duration, metrics=record.metrics, run_id=run_id)


def write_run_page(variant: Variant, boxes: list[StepBox], folder: Path) -> Path:
    """Write the variant's ``pipeline.html`` into ``folder``; its path."""
    view = PipelineView(
        title=run_name(variant),
        subtitle=f"pipeline run of {variant.manifest.path.name}",
        steps=tuple(boxes),
        edges=edges(variant.manifest, {box.name for box in boxes}),
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PAGE_NAME
    path.write_text(render_pipeline(view), encoding="utf-8")
    return path


def plan_page(plan: Plan, repos: Mapping[str, RepoContext]) -> str:
    """The page of a plan's first variant, before anything runs (``dag --format html``)."""
    variant = plan.variants[0]
    boxes = []
    for step in variant.steps:
        status: BoxStatus = "run" if step.status == "run" else "cached"
        if step.fingerprint in plan.remote:
            status = "remote"
        boxes.append(_box(step, repos, status))
    view = PipelineView(
        title=run_name(variant),
        subtitle=f"plan of {variant.manifest.path.name} (nothing has run)",
        steps=tuple(boxes),
        edges=edges(variant.manifest, {box.name for box in boxes}),
    )
    return render_pipeline(view)
