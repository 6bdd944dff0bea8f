"""``run``: sync, plan, execute what is not cached, and track it all in MLflow.

The caller hands in what this layer needs (the manifest, the workspace paths,
the sync result, the services of :mod:`~mlrecipes.core.run.compose`) and
nothing calls back up. MLflow stays off the
critical path (see :mod:`mlrecipes.core.run.execute`): a run that has nothing
to do never starts the tracker. Every run ends FINISHED, FAILED or KILLED.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence

from mlrecipes.core.errors import StepFailed
from mlrecipes.core.events import EventHandler, PipelineFinished, PlanReady, ignore
from mlrecipes.core.executors.groups import end_orphaned_groups
from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.plan.labels import execution_labels
from mlrecipes.core.plan.planner import Plan, make_plan
from mlrecipes.core.plan.records import fingerprints_hash, read_finished_run
from mlrecipes.core.plan.sweep import MAX_VARIANTS, expand_overrides
from mlrecipes.core.run.compose import RunServices
from mlrecipes.core.run.execute import PipelineExecution
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.run.outputs import check_declared_outputs, link_declared_outputs
from mlrecipes.core.store.local import Store
from mlrecipes.core.store.usage import write_usage
from mlrecipes.core.sync.workspace_sync import SyncResult
from mlrecipes.core.tracking.outbox import RunIds
from mlrecipes.core.tracking.pending import deliver_pending, report_waiting
from mlrecipes.core.tracking.uri import tracking_uri
from mlrecipes.git_sources import short_commit


def _up_to_date(paths: WorkspacePaths, plan: Plan, uri: str) -> tuple[str, ...] | None:
    if plan.to_run:
        return None
    found = [
        read_finished_run(paths.runs, fingerprints_hash(v.fingerprints), uri) for v in plan.variants
    ]
    if any(run_id is None for run_id in found):
        return None
    return tuple(r for r in found if r is not None)


def run_pipeline(
    manifest: Manifest,
    paths: WorkspacePaths,
    sync: SyncResult,
    targets: Sequence[str],
    options: RunOptions,
    *,
    services: RunServices,
    on_event: EventHandler = ignore,
) -> RunResult:
    """Plan every variant on ``sync``'s repos, run what is missing, log it (see module doc)."""
    started = time.time_ns()
    variants = expand_overrides(
        options.overrides, max_variants=None if options.large_sweep else MAX_VARIANTS
    )
    plan = make_plan(
        manifest,
        sync.repos,
        targets=targets,
        variants=variants,
        force=options.force,
        failed=sync.failed,
    )
    uri = tracking_uri(manifest)
    experiment = manifest.experiment
    team = services.team_store(uri, on_event)
    if team is not None:  # --- team store: which steps to run another machine ran ---
        deliver_pending(paths, uri)  # runs logged here but still in the outbox count too
        plan = team.lookup(plan)
    cached, remote = len(plan.unique()) - len(plan.to_run), len(plan.remote)
    to_run = len(plan.to_run) - remote
    on_event(PlanReady(len(plan.variants), to_run, cached, execution_labels(plan), remote))
    if options.dry_run:  # changes nothing on disk
        return RunResult(plan, "DRY_RUN", (), uri, experiment)
    # Temp entries of processes killed mid-step (kill -9, OOM): their locks are free.
    Store(paths.store).clean_partial()
    # What their steps started is left in the steps' process groups: end it.
    end_orphaned_groups(paths.store)
    if team is not None:  # --- team store: download them into the local store ---
        plan = team.fetch(plan, Store(paths.store))
    _record_usage(paths, plan, sync)
    done = None if options.new_run else _up_to_date(paths, plan, uri)
    if done is not None:
        # Nothing runs, but the declared places may be gone or show another variant.
        link_declared_outputs(Store(paths.store), plan.variants[-1].steps, paths.root)
        ids = RunIds(paths.outbox)
        done = tuple(ids.resolve(run_id) for run_id in done)
        on_event(PipelineFinished(done, "UP_TO_DATE", uri, experiment))
        report_waiting(paths, on_event)
        return RunResult(plan, "UP_TO_DATE", done, uri, experiment)

    # A declared place held by an unrelated file fails now, before any step runs.
    check_declared_outputs(Store(paths.store), plan.variants[-1].steps, paths.root)
    uploads = services.after_step is None and not services.runs_ahead  # store mode: nodes do
    if team is not None and uploads:  # --- team store: uploads ---
        services = dataclasses.replace(services, after_step=team.after_step)
    execution = PipelineExecution(
        plan,
        sync,
        manifest=manifest,
        paths=paths,
        uri=uri,
        options=options,
        services=services,
        on_event=on_event,
    )
    try:
        done_run = execution.execute()
    finally:
        if team is not None:
            team.report_uploads()  # --- team store: what was not shared, and why ---
    on_event(PipelineFinished(done_run.run_ids, done_run.status, uri, experiment))
    report_waiting(paths, on_event, started_before=started)
    if done_run.status == "KILLED":
        raise KeyboardInterrupt
    if done_run.link_error is not None:  # linked before the runs ended: they say FAILED
        raise done_run.link_error
    results = done_run.results
    failures = [r for r in results.values() if r.status == "failed"]
    failed = {r.step: _failure_text(r, plan, sync) for r in failures}
    if failed:  # a step's failure (exit 4) outranks a tracking failure (exit 1)
        # Only the log's path was printed (its lines too with -v): say so. A step
        # whose environment could not be built never ran: it has no log.
        if any(r.log_path is not None for r in failures):
            hint = "the full output is in the log file named above; fix it and run again"
        else:
            hint = "no step ran: fix what the error names and run again"
        if done_run.tracking_error is not None:
            hint += f" (MLflow logging failed too: {done_run.tracking_error.message})"
        raise StepFailed(failed, hint=hint)
    if done_run.tracking_error is not None:
        raise done_run.tracking_error
    return RunResult(plan, done_run.status, done_run.run_ids, uri, experiment, results)


def _record_usage(paths: WorkspacePaths, plan: Plan, sync: SyncResult) -> None:
    """What this run uses: ``store gc --keep-last N`` keeps it."""
    entries = [(s.step, s.fingerprint) for v in plan.variants for s in v.steps]
    write_usage(paths.runs, entries, [ctx.env.key for ctx in sync.repos.values()])


def _failure_text(result: StepResult, plan: Plan, sync: SyncResult) -> str:
    """``(repo@sha): last lines of the traceback``, without the runner's own
    ``step 'name (repo@sha)': `` prefix (written for the log, which stands alone)."""
    step = plan.unique()[result.key]
    error = (result.error or "failed").strip()
    error = re.sub(rf"^step '{re.escape(result.step)}(?: \([^)]*\))?': ", "", error)
    ctx = sync.repos.get(step.repo)
    if ctx is None:
        return f"({step.repo}, no environment): {error}"
    return f"({step.repo}@{short_commit(ctx.source.commit)}): {error}"
