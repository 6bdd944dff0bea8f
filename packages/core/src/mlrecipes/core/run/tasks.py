"""Turning a planned step into the task an executor runs."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.plan.planner import PlannedStep
from mlrecipes.core.sync.workspace_sync import SyncResult
from mlrecipes.git_sources import short_commit


def build_task(step: PlannedStep, sync: SyncResult, running: Collection[str]) -> StepTask:
    module, _, func = step.fn.partition(":")[2].rpartition(".")
    needs = tuple(fp for fp in step.needs if fp in running)
    ctx = sync.repos.get(step.repo)
    if ctx is None or step.unavailable is not None:
        # Its environment could not be built: the scheduler fails it without starting it.
        return StepTask(
            key=step.fingerprint, step=step.step, fingerprint=step.fingerprint,
            python=Path(), cwd=Path(), module=module, func=func, params=dict(step.params),
            inputs=dict(step.input_paths), outputs=dict(step.outputs), needs=needs,
            label=step.step, unavailable=step.unavailable or f"repo {step.repo!r} is not synced",
        )  # fmt: skip
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
        needs=needs,
        label=f"{step.step} ({step.repo}@{short_commit(ctx.source.commit)})",
        code_roots=dict(step.code_roots),
        code_key=step.code_key,
        repo=step.repo,
        input_ids=dict(step.inputs),
    )
