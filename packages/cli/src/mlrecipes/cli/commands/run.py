"""``mlrecipes run``: sync if needed, plan, run the DAG, track in MLflow."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mlrecipes.cli.completion import complete_overrides, complete_steps
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
from mlrecipes.cli.run_flow import run_and_report
from mlrecipes.cli.state import get_state


class ExecutorKind(StrEnum):
    local = "local"
    ray = "ray"


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
    from mlrecipes.core import RunOptions

    options = RunOptions(
        overrides=tuple(set_ or ()),
        jobs=jobs,
        force=tuple(force or ()),
        dry_run=dry_run,
        fail_fast=fail_fast,
        sync_mode=sync_mode(locked=locked, frozen=frozen),
        live_logs=get_state(ctx).verbose,
        executor=executor.value if executor else None,
        ray_address=ray_address,
        ray_storage=ray_storage.value if ray_storage else None,
        large_sweep=yes,
        share=not no_share,
        wait=wait,
    )
    run_and_report(
        get_state(ctx), file=file, steps=tuple(steps or ()), options=options, dev=parse_dev(dev)
    )
