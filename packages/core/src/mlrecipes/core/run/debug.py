"""Debugging one step: ``mlrecipes step run STEP [--pdb]`` and ``mlrecipes step call STEP``.

``step run`` runs the step in its environment in the foreground, stdio attached,
with its inputs taken from the store; it writes into a scratch folder
(``.mlrecipes/debug/<step>/``) that never counts as a store entry and logs nothing
to MLflow. ``step call`` prints the interpreter and a self-contained snippet that
calls the function with the resolved arguments, to paste into an IDE debugger.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrecipes.core.errors import StoreError
from mlrecipes.core.executors import subprocess_env
from mlrecipes.core.executors.runner import build_spec, render_call_snippet, runner_argv, write_spec
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.manifest import resolve_params
from mlrecipes.core.plan.planner import make_plan, needed_repos
from mlrecipes.core.plan.sweep import expand_overrides
from mlrecipes.core.run.tasks import build_task
from mlrecipes.core.store.local import Store
from mlrecipes.git_sources import hold_checkouts

if TYPE_CHECKING:
    from mlrecipes.core.workspace import Workspace


@dataclass(frozen=True)
class DebugTarget:
    task: StepTask
    scratch: Path
    public_params: Mapping[str, Any]  # what may be printed (secrets masked, "code" view)
    checkouts: Mapping[str, str] = field(default_factory=dict)  # held while the step runs


def debug_target(ws: Workspace, step: str, overrides: Sequence[str] = ()) -> DebugTarget:
    """The task of ``step`` with its inputs from the store; raises when an upstream is missing."""
    variants = expand_overrides(overrides, max_variants=None)[:1]
    synced = ws.sync(only=needed_repos(ws.manifest, [step]))
    plan = make_plan(ws.manifest, synced.repos, targets=[step], variants=variants)
    planned = {s.step: s for s in plan.variants[0].steps}
    store = Store(ws.paths.store)
    target = planned[step]
    missing = [
        name
        for name in ws.graph.upstream_closure([step])
        if name != step and not store.is_complete(name, planned[name].fingerprint)
    ]
    direct = {up for up in ws.manifest.steps[step].upstream()}
    missing_direct = [m for m in missing if m in direct] or missing
    if missing_direct:
        first = missing_direct[0]
        raise StoreError(
            f"step {step!r} needs the output of step {first!r}, which is not in the store "
            "for these parameters",
            step=first,
            hint=f"run `mlrecipes run {first}` first",
        )
    scratch = ws.paths.debug / step
    task = build_task(target, synced, running=())
    # the public view, where each !env value knows how to read itself (for `step call`)
    shown = resolve_params(plan.variants[0].manifest, step, view="code")
    return DebugTarget(task, scratch, shown, synced.checkouts)


@dataclass(frozen=True)
class ForegroundResult:
    """How ``step run`` ended: the runner's exit code and the metrics the step returned."""

    code: int
    metrics: Mapping[str, float]
    scratch: Path


def run_step_foreground(
    ws: Workspace, step: str, *, pdb: bool = False, overrides: Sequence[str] = ()
) -> ForegroundResult:
    """Run one step with the terminal attached; its exit code and returned metrics."""
    target = debug_target(ws, step, overrides)
    shutil.rmtree(target.scratch, ignore_errors=True)
    target.scratch.mkdir(parents=True)
    spec_path = target.scratch / ".spec.json"
    result = target.scratch / ".result.json"
    spec = build_spec(target.task, entry=target.scratch, result=result)
    write_spec(spec_path, spec)
    argv = runner_argv(target.task.python, spec_path, pdb=pdb)
    env = subprocess_env(target.task.python, target.task.env)
    try:
        with hold_checkouts(ws.paths.checkouts, target.checkouts):  # no update moves them
            code = subprocess.run(argv, cwd=target.task.cwd, env=env, check=False).returncode
    finally:
        spec_path.unlink(missing_ok=True)  # it holds secrets; the runner removes it once read
    return ForegroundResult(code, _returned_metrics(result) if code == 0 else {}, target.scratch)


def _returned_metrics(result: Path) -> dict[str, float]:
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    metrics = data.get("metrics") if isinstance(data, dict) else None
    return {str(k): float(v) for k, v in (metrics or {}).items()}


def call_snippet(ws: Workspace, step: str, overrides: Sequence[str] = ()) -> tuple[Path, str]:
    """The environment's interpreter and a snippet that calls the step's function."""
    target = debug_target(ws, step, overrides)
    # Printed to a terminal: secrets stay masked, the user sets them in the debugger.
    shown = replace(target.task, params=dict(target.public_params))
    return target.task.python, render_call_snippet(shown, out_dir=target.scratch)
