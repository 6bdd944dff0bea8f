"""``mlrecipes reproduce RUN_ID``: rerun a logged run at its commits and compare its metrics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlrecipes.cli.options import JobsOpt, ManifestOpt
from mlrecipes.cli.render import EventPrinter
from mlrecipes.cli.sanitize import escape
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.errors import UserError
from mlrecipes.core.reproduce import ReproduceResult, reproduce_run, reproduce_tracking_uri


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def comparison_table(result: ReproduceResult) -> Table:
    """Step, metric, logged, reproduced, difference: one row per metric."""
    table = Table(title=f"run {result.run_id} reproduced as {result.reproduction_run_id}")
    for name in ("step", "metric", "logged", "reproduced", "difference", ""):
        table.add_column(name, justify="right" if name in ("logged", "reproduced") else "left")
    for row in result.comparisons:
        mark = "[green]ok[/]" if row.matches else "[red]drift[/]"
        table.add_row(
            escape(row.step),
            escape(row.metric),
            _number(row.logged),
            _number(row.reproduced),
            _number(row.difference),
            mark,
        )
    return table


def _notes(console: Console, result: ReproduceResult, *, temporary: bool) -> None:
    if not result.recomputed:
        console.print(
            "[yellow]nothing was recomputed[/]: every step came from the store of "
            f"{escape(str(result.workdir))}; use --no-cache to execute every step again "
            "and check determinism"
        )
    if not result.same_fingerprints:
        console.print(
            "[yellow]note[/]: the steps' inputs (code, environment, params or input files) "
            "did not hash the same as in the logged run"
        )
    if temporary and not result.matches:
        console.print(f"[dim]work folder kept: {escape(str(result.workdir))}[/]")


def _delivered(run_id: str, file: Path | None) -> str:
    """Deliver this workspace's waiting runs first; a local run id becomes MLflow's."""
    try:
        ws = Workspace.load(file)
    except UserError:
        return run_id  # reproducing from a bare tracking URI: nothing of ours waits
    ws.push_runs()
    return ws.resolve_run_id(run_id)


PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def quiet_downloads(terminal: bool) -> None:
    """No MLflow download bar when stderr is no terminal (a log, CI): it redraws in place,
    which a log shows as one line repeated (set the variable to choose otherwise)."""
    if not terminal:
        os.environ.setdefault(PROGRESS_BAR, "false")


def reproduce(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="The MLflow parent run to reproduce.")
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            metavar="URI",
            help="The MLflow store holding the run (default: MLFLOW_TRACKING_URI, else the "
            "store of the workspace here); the reproduction is logged there too.",
        ),
    ] = None,
    rtol: Annotated[
        float,
        typer.Option(
            "--rtol",
            min=0.0,
            metavar="X",
            show_default=False,
            help="Relative tolerance (default: 0, exact).",
        ),
    ] = 0.0,
    atol: Annotated[
        float,
        typer.Option(
            "--atol",
            min=0.0,
            metavar="Y",
            show_default=False,
            help="Absolute tolerance (default: 0, exact).",
        ),
    ] = 0.0,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            metavar="DIR",
            file_okay=False,
            help="Work folder (default: a fresh temporary one; kept on drift).",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Execute every step, even those in the store.")
    ] = False,
    jobs: JobsOpt = None,
    file: ManifestOpt = None,
) -> None:
    """Rerun a logged run from its MLflow artifacts at the same commits; exit 5 on drift."""
    state = get_state(ctx)
    quiet_downloads(state.err.is_terminal)
    uri = reproduce_tracking_uri(tracking_uri, manifest=file)
    run_id = _delivered(run_id, file)
    result = reproduce_run(
        run_id,
        tracking_uri=uri,
        workdir=workdir,
        rtol=rtol,
        atol=atol,
        no_cache=no_cache,
        jobs=jobs,
        on_event=EventPrinter(state.err, verbose=state.verbose),
    )
    state.console.print(comparison_table(result))
    _notes(state.console, result, temporary=workdir is None)
    result.check()  # DriftDetected: exit 5
    state.console.print(f"[green]reproduced[/]: run {result.reproduction_run_id} matches {run_id}")
