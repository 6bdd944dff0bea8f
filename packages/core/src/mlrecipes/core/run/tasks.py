"""Turning a planned step into the task an executor runs."""

from __future__ import annotations

from collections.abc import Collection

from mlrecipes.core.plan import PlannedStep
from mlrecipes.core.syncing import SyncResult
from mlrecipes.core.task import StepTask
from mlrecipes.git_sources import short_commit


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
        label=f"{step.step} ({step.repo}@{short_commit(ctx.source.commit)})",
    )
