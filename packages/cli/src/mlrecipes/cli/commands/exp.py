"""``mlrecipes exp show``: compare pipeline runs from MLflow."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.experiments import as_records, columns, pipeline_runs

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
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N", help="At most this many runs.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON records for scripts.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV for spreadsheets.")] = False,
) -> None:
    """A table of the experiment's pipeline runs: status, overrides, metrics, commits."""
    if as_json and as_csv:
        raise typer.BadParameter("give one of --json and --csv", param_hint="'--json' / '--csv'")
    ws = Workspace.load(file)
    records = as_records(
        pipeline_runs(ws.manifest, filter_=filter_, sort=sort, ascending=ascending, limit=limit)
    )
    cols = columns(records)
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
    table = Table(*[c if c != "run_id" else "run" for c in cols], title=ws.manifest.experiment)
    for record in records:
        cells = []
        for col in cols:
            value = record.get(col, "")
            if col == "run_id":
                value = str(value)[:8]
            cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        table.add_row(*cells)
    console = get_state(ctx).console
    # Like `dvc exp show`: never squeeze columns into ellipses; a wide table stays wide
    # (a terminal wraps it, a pipe or a file gets it whole).
    natural = Console(width=10_000).measure(table).maximum
    if natural > console.width:
        console = Console(width=natural, highlight=False)
    console.print(table)
