"""``run``: sync, plan, execute what is not cached, and track it all in MLflow.

The order of work keeps MLflow off the critical path: the tracker runs on a
background thread; a step waits only for its own child run id, created ahead
of time in the order steps start. Every run ends FINISHED, FAILED or KILLED.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mlrecipes.core.errors import StepFailed
from mlrecipes.core.events import EventHandler, PipelineFinished, PlanReady, ignore
from mlrecipes.core.outputs import link_declared_outputs
from mlrecipes.core.plan import Plan, PlannedStep, make_plan
from mlrecipes.core.run_records import fingerprints_hash, read_finished_run, write_usage
from mlrecipes.core.store import Store
from mlrecipes.core.sweep import expand_overrides
from mlrecipes.core.syncing import SyncMode, SyncResult
from mlrecipes.core.task import StepResult, StepTask
from mlrecipes.core.tracking_uri import tracking_uri

if TYPE_CHECKING:
    from mlrecipes.core.manifest import Manifest
    from mlrecipes.core.team_store import TeamStore
    from mlrecipes.core.workspace import Workspace


@dataclass(frozen=True)
class RunOptions:
    overrides: Sequence[str] = ()
    jobs: int | None = None
    force: Collection[str] = ()
    dry_run: bool = False
    fail_fast: bool = False
    sync_mode: SyncMode = "resolve"
    live_logs: bool = False
    executor: str | None = None
    ray_address: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)  # on every parent run
    share: bool = True  # False: no team store this run (--no-share)


@dataclass(frozen=True)
class RunResult:
    plan: Plan
    status: Literal["FINISHED", "FAILED", "KILLED", "UP_TO_DATE", "DRY_RUN"]
    run_ids: tuple[str, ...]
    tracking_uri: str
    experiment: str
    results: dict[str, StepResult] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return self.status == "UP_TO_DATE"


def build_task(step: PlannedStep, sync: SyncResult, running: Collection[str]) -> StepTask:
    ctx = sync.repos[step.repo]
    module, _, func = step.fn.partition(":")[2].rpartition(".")
    return StepTask(
        key=step.fingerprint,
        step=step.step,
        fingerprint=step.fingerprint,
        python=ctx.env.python,
        cwd=ctx.source.project_dir,
        module=module,
        func=func,
        params=dict(step.params),
        inputs=dict(step.input_paths),
        outputs=dict(step.outputs),
        env={"PYTHONPYCACHEPREFIX": str(ctx.pycache)} if ctx.pycache else {},
        needs=tuple(fp for fp in step.needs if fp in running),
        label=f"{step.step} ({step.repo}@{ctx.source.commit[:7]})",
    )


def _up_to_date(ws: Workspace, plan: Plan, uri: str) -> tuple[str, ...] | None:
    if plan.to_run:
        return None
    found = [
        read_finished_run(ws.paths.runs, fingerprints_hash(v.fingerprints), uri)
        for v in plan.variants
    ]
    if any(run_id is None for run_id in found):
        return None
    return tuple(r for r in found if r is not None)


def run_pipeline(
    ws: Workspace,
    targets: Sequence[str],
    options: RunOptions,
    *,
    on_event: EventHandler = ignore,
) -> RunResult:
    """Sync if needed, plan every variant, run what is missing, log it (see module doc)."""
    manifest = ws.manifest
    variants = expand_overrides(options.overrides)
    uri = tracking_uri(manifest)
    team = _open_team_store(manifest, uri, options, on_event)  # --- team store ---
    sync = ws.sync(mode=options.sync_mode, jobs=options.jobs, on_event=on_event)
    plan = make_plan(manifest, sync.repos, targets=targets, variants=variants, force=options.force)
    experiment = manifest.experiment
    if team is not None:  # --- team store: which steps to run another machine ran ---
        plan = team.lookup(plan)
    cached = len(plan.unique()) - len(plan.to_run)
    remote = len(plan.remote)
    on_event(PlanReady(len(plan.variants), len(plan.to_run) - remote, cached, remote))
    if options.dry_run:
        return RunResult(plan, "DRY_RUN", (), uri, experiment)
    if team is not None:  # --- team store: download them into the local store ---
        plan = team.fetch(plan, Store(ws.paths.store))
    _record_usage(ws, plan, sync)
    done = _up_to_date(ws, plan, uri)
    if done is not None:
        # Nothing runs, but the declared places may be gone or show another variant.
        link_declared_outputs(Store(ws.paths.store), plan.variants[-1].steps, ws.paths.root)
        on_event(PipelineFinished(done, "UP_TO_DATE", uri, experiment))
        return RunResult(plan, "UP_TO_DATE", done, uri, experiment)

    from mlrecipes.core.pipeline_exec import PipelineExecution

    execution = PipelineExecution(ws, plan, sync, uri, options, on_event, team=team)
    results, status, run_ids = execution.execute()
    link_declared_outputs(Store(ws.paths.store), plan.variants[-1].steps, ws.paths.root)
    on_event(PipelineFinished(run_ids, status, uri, experiment))
    if status == "KILLED":
        raise KeyboardInterrupt
    failed = {
        r.step: _failure_text(r, plan, sync) for r in results.values() if r.status == "failed"
    }
    if failed:
        raise StepFailed(failed, hint="see the step's log above; fix it and run again")
    return RunResult(plan, status, run_ids, uri, experiment, results)


def _record_usage(ws: Workspace, plan: Plan, sync: SyncResult) -> None:
    """What this run uses: ``store gc --keep-last N`` keeps it."""
    entries = [(s.step, s.fingerprint) for v in plan.variants for s in v.steps]
    write_usage(ws.paths.runs, entries, [ctx.env.key for ctx in sync.repos.values()])


def _open_team_store(
    manifest: Manifest, uri: str, options: RunOptions, on_event: EventHandler
) -> TeamStore | None:
    from mlrecipes.core.team_store import TeamStore, share_settings

    settings = share_settings(manifest.store, uri, enabled=options.share)
    return None if settings is None else TeamStore(settings, manifest.experiment, on_event)


def _failure_text(result: StepResult, plan: Plan, sync: SyncResult) -> str:
    """``repo@sha: last lines of the traceback``."""
    step = plan.unique()[result.key]
    commit = sync.repos[step.repo].source.commit[:7]
    return f"{step.repo}@{commit}: {(result.error or 'failed').strip()}"


__all__ = ["RunOptions", "RunResult", "build_task", "run_pipeline"]
