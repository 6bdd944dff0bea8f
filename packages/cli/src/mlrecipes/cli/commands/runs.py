"""``mlrecipes runs push``: deliver the runs waiting in the outbox to MLflow."""

from __future__ import annotations

import typer

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.render import waiting_line
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.errors import TrackingError
from mlrecipes.core.events import RunsWaiting
from mlrecipes.core.tracking.uri import tracking_uri

app = typer.Typer(help="Pipeline runs on their way to MLflow.")


@app.command("push")
def push(ctx: typer.Context, file: ManifestOpt = None) -> None:
    """Deliver the runs still waiting in .mlrecipes/outbox; fails if some must wait on."""
    state = get_state(ctx)
    ws = Workspace.load(file)
    left = ws.push_runs()
    if left.runs:
        state.err.print(waiting_line(RunsWaiting(left.runs, left.reason)))
        raise TrackingError(
            f"{left.runs} runs could not be delivered",
            uri=tracking_uri(ws.manifest),
            hint="check that the tracking server is up, then run `mlrecipes runs push` again",
        )
    state.console.print("[green]every run is in MLflow[/]")
