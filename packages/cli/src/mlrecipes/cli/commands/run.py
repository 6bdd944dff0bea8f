"""``mlrecipes run``: sync if needed, plan, run the DAG, track in MLflow."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mlrecipes.cli.options import DevOpt, FrozenOpt, JobsOpt, LockedOpt, ManifestOpt
from mlrecipes.cli.render import EventPrinter
from mlrecipes.cli.state import get_state
from mlrecipes.core import Plan, RunOptions, Workspace, parse_dev_options, sync_mode


class ExecutorKind(StrEnum):
    local = "local"
    ray = "ray"


def _print_plan(console: Console, plan: Plan) -> None:
    for variant in plan.variants:
        if len(plan.variants) > 1:
            sets = " ".join(f"{k}={v}" for k, v in variant.overrides.items())
            console.print(f"[bold]variant {variant.index}[/] {escape(sets)}")
        for step in variant.steps:
            source = plan.remote.get(step.fingerprint)
            if source is not None:
                console.print(
                    f"  [cyan]remote[/] {escape(step.step)}: from team store: run {source}"
                )
            elif step.status == "cached":
                console.print(
                    f"  [cyan]cached[/] {escape(step.step)} [dim]{step.fingerprint[:12]}[/]"
                )
            else:
                why = "; ".join(step.reasons)
                console.print(f"  [yellow]run[/]    {escape(step.step)}: {escape(why)}")


def run(
    ctx: typer.Context,
    steps: Annotated[
        list[str] | None, typer.Argument(help="Run up to these steps (default: all).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set-param",
            "-S",
            metavar="KEY=VALUE",
            help="Override a param (step.param=v or global=v); v1,v2 sweeps.",
        ),
    ] = None,
    file: ManifestOpt = None,
    jobs: JobsOpt = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", metavar="STEP", help="Rerun STEP and its downstream steps."),
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
            help="Where steps run (default: the manifest's executor, else local).",
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", metavar="ADDR", help="Ray cluster address (or auto)."),
    ] = None,
    no_share: Annotated[
        bool,
        typer.Option(
            "--no-share", help="Neither fetch from nor upload to the team store (store.share)."
        ),
    ] = False,
) -> None:
    """Run the pipeline (or up to STEP...), every step in its repo's environment."""
    state = get_state(ctx)
    ws = Workspace.load(file, dev=parse_dev_options(dev))
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
        share=not no_share,
    )
    with EventPrinter(state.err, verbose=state.verbose) as printer:
        result = ws.run(tuple(steps or ()), options=options, on_event=printer)
    if dry_run:
        _print_plan(state.console, result.plan)
        return
    if result.up_to_date:
        state.console.print(f"[green]up to date[/]: run {result.run_ids[0]}")
        return
    for run_id in result.run_ids:
        state.console.print(f"[green]finished[/] run {run_id}")
    state.console.print(
        f"[dim]tracking: {escape(result.tracking_uri)}, experiment {escape(result.experiment)}[/]"
    )
