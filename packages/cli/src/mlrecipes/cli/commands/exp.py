"""``mlrecipes exp show``: compare pipeline runs from MLflow."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

import typer
from rich.console import Console

from mlrecipes.cli.exp_table import (
    build_table,
    choose_columns,
    column_name,
    column_width,
    fit_columns,
    table_width,
)
from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.render import waiting_line
from mlrecipes.cli.state import State, get_state
from mlrecipes.core import Workspace
from mlrecipes.core.events import RunsWaiting
from mlrecipes.core.tracking.experiments import as_records, columns, pipeline_runs

app = typer.Typer(help="Compare the experiment's pipeline runs.")


@app.command("show")
def show(
    ctx: typer.Context,
    file: ManifestOpt = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="EXPR",
            help="MLflow search syntax, e.g. \"params.`train.lr` = '0.1'\".",
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort", metavar="COLUMN", help="A metric (evaluate.auc), params.X or start_time."
        ),
    ] = None,
    ascending: Annotated[bool, typer.Option("--asc", help="Sort ascending.")] = False,
    study: Annotated[
        str | None,
        typer.Option("--study", metavar="NAME", help="Only the runs of this `tune` study."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N", help="At most this many runs.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON records for scripts.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV for spreadsheets.")] = False,
    columns_: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="COLUMNS",
            help="Comma-separated columns to show, names or globs (run_id,overrides,evaluate.*).",
        ),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, even when wider than the terminal.")
    ] = False,
) -> None:
    """A table of the experiment's pipeline runs: status, overrides, metrics, commits."""
    if as_json and as_csv:
        raise typer.BadParameter("give one of --json and --csv", param_hint="'--json' / '--csv'")
    ws = Workspace.load(file)
    left = ws.push_runs()  # runs still in the outbox are shown too, once in MLflow
    if left.runs:
        get_state(ctx).err.print(waiting_line(RunsWaiting(left.runs, left.reason)))
    records = as_records(
        pipeline_runs(
            ws.manifest,
            filter_=filter_,
            sort=sort,
            ascending=ascending,
            limit=limit,
            runs_dir=ws.paths.runs,
            study=study,
        )
    )
    cols = columns(records)
    if columns_ and records:
        cols = choose_columns(cols, [c.strip() for c in columns_.split(",") if c.strip()])
        records = [{c: r[c] for c in cols if c in r} for r in records]
    if as_json:
        typer.echo(json.dumps(records, indent=2))
        return
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        typer.echo(buffer.getvalue(), nl=False)
        return
    if not records:
        get_state(ctx).err.print(f"no pipeline runs in experiment {ws.manifest.experiment!r} yet")
        return
    _print_table(get_state(ctx), ws.manifest.experiment, records, cols, fit=not (wide or columns_))


def _print_table(
    state: State, title: str, records: list[dict[str, Any]], cols: list[str], *, fit: bool
) -> None:
    console = state.console
    shown = fit_columns(records, cols, console.width) if fit else cols
    table = build_table(records, shown, title=title)
    # Like `dvc exp show --wide`: never squeeze columns into ellipses; a table wider
    # than the terminal (--wide, --columns) stays whole for a pipe or a file.
    natural = table_width([column_width(records, c) for c in shown])
    if natural > console.width:
        console = Console(width=natural, highlight=False)
    console.print(table)
    hidden = [c for c in cols if c not in shown]
    if hidden:
        names = ", ".join(map(column_name, hidden[:6])) + (", ..." if len(hidden) > 6 else "")
        state.err.print(
            f"{len(hidden)} more column(s): {names} (--wide shows all, --columns chooses)"
        )
