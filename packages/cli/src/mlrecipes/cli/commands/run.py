"""``mlrecipes run``: sync if needed, plan, run the DAG, track in MLflow."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from mlrecipes.cli.completion import complete_overrides, complete_steps
from mlrecipes.cli.hints import pythonpath_note, update_hint
from mlrecipes.cli.options import (
    DevOpt,
    FrozenOpt,
    JobsOpt,
    LockedOpt,
    ManifestOpt,
    RayStorageOpt,
    TargetsArg,
    parse_dev,
    sync_mode,
)
from mlrecipes.cli.render import EventPrinter
from mlrecipes.cli.sanitize import escape
from mlrecipes.cli.state import get_state
from mlrecipes.core import Plan, RunOptions, RunResult, Workspace
from mlrecipes.core.plan.labels import variant_label
from mlrecipes.core.sync.upstream import known_upstream


class ExecutorKind(StrEnum):
    local = "local"
    ray = "ray"


def _print_plan(console: Console, plan: Plan) -> None:
    for variant in plan.variants:
        if len(plan.variants) > 1:
            console.print(f"[bold]{escape(variant_label(plan, variant))}[/]")
        for step in variant.steps:
            source = plan.remote.get(step.fingerprint)
            if source is not None:
                console.print(
                    f"  [cyan]remote[/] {escape(step.step)}: from team store: run {source}"
                )
            elif step.status == "cached":
                # A step kept across a commit by its code record says why.
                why = f": {escape('; '.join(step.reasons))}" if step.reasons else ""
                console.print(
                    f"  [cyan]cached[/] {escape(step.step)} [dim]{step.fingerprint[:12]}[/]{why}"
                )
            else:
                # A repo not synced (dry run) or not buildable: say that, not a diff.
                why = step.unavailable or "; ".join(step.reasons)
                console.print(f"  [yellow]run[/]    {escape(step.step)}: {escape(why)}")


def _variant_names(result: RunResult) -> list[tuple[str, str]]:
    """Each run id with `` [variant i: ...]`` in a sweep (run ids come in variant order)."""
    plan = result.plan
    if len(plan.variants) < 2 or len(result.run_ids) != len(plan.variants):
        return [(run_id, "") for run_id in result.run_ids]
    return [
        (run_id, escape(f" [{variant_label(plan, variant)}]"))
        for run_id, variant in zip(result.run_ids, plan.variants, strict=True)
    ]


def run(
    ctx: typer.Context,
    steps: TargetsArg = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set-param",
            "-S",
            metavar="KEY=VALUE",
            autocompletion=complete_overrides,
            help="Override a param (step.param=v or global=v); v1,v2 sweeps.",
        ),
    ] = None,
    file: ManifestOpt = None,
    jobs: JobsOpt = None,
    force: Annotated[
        list[str] | None,
        typer.Option(
            "--force",
            metavar="STEP",
            help="Rerun STEP and its downstream steps.",
            autocompletion=complete_steps,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would run and why; run nothing.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop everything at the first failed step.")
    ] = False,
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    dev: DevOpt = None,
    executor: Annotated[
        ExecutorKind | None,
        typer.Option(
            "--executor",
            metavar="local|ray",
            help="Where steps run (default: the manifest's executor, else local).",
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", metavar="ADDR", help="Ray cluster address (or auto)."),
    ] = None,
    ray_storage: RayStorageOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow a sweep of more than 1,000 variants.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Return only once MLflow holds every run (always so when CI is set)."
        ),
    ] = False,
    no_share: Annotated[
        bool,
        typer.Option(
            "--no-share", help="Neither fetch from nor upload to the team store (store.share)."
        ),
    ] = False,
) -> None:
    """Run the pipeline (or up to STEP...), every step in its repo's environment."""
    state = get_state(ctx)
    ws = Workspace.load(file, dev=parse_dev(dev))
    options = RunOptions(
        overrides=tuple(set_ or ()),
        jobs=jobs,
        force=tuple(force or ()),
        dry_run=dry_run,
        fail_fast=fail_fast,
        sync_mode=sync_mode(locked=locked, frozen=frozen),
        live_logs=state.verbose,
        executor=executor.value if executor else None,
        ray_address=ray_address,
        ray_storage=ray_storage.value if ray_storage else None,
        large_sweep=yes,
        share=not no_share,
        wait=wait,
    )
    note = pythonpath_note()
    if note:
        state.err.print(note)
    with EventPrinter(state.err, verbose=state.verbose) as printer:
        result = ws.run(tuple(steps or ()), options=options, on_event=printer)
    hint = update_hint(known_upstream(ws.manifest))  # no network: what the last fetch saw
    if hint:
        state.err.print(hint)
    if dry_run:
        _print_plan(state.console, result.plan)
        return
    word = "[green]up to date[/]: run" if result.up_to_date else "[green]finished[/] run"
    for run_id, variant in _variant_names(result):
        state.console.print(f"{word} {run_id}{variant}")
    if result.up_to_date:
        return
    state.console.print(
        f"[dim]tracking: {escape(result.tracking_uri)}, experiment {escape(result.experiment)}[/]"
    )
