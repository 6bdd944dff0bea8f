"""``mlrecipes tracker status|stop``: the warm tracker of this workspace."""

from __future__ import annotations

import typer

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace

app = typer.Typer(help="The warm tracker: MLflow kept open between commands.")


@app.command("status")
def status(ctx: typer.Context, file: ManifestOpt = None) -> None:
    """Say whether a warm tracker runs for this workspace, and what it holds."""
    state = get_state(ctx)
    ws = Workspace.load(file)
    found = ws.tracker_status()
    if found is None:
        state.console.print("no warm tracker runs for this workspace")
    else:
        error = f", last error: {found.error}" if found.error else ""
        state.console.print(
            f"warm tracker pid {found.pid}: ends after {found.idle:g} s idle, "
            f"{found.pending_segments} outbox segments{error}"
        )
    left = ws.waiting_runs()
    if left.runs:
        state.console.print(f"{left.runs} runs waiting for MLflow")


@app.command("stop")
def stop(ctx: typer.Context, file: ManifestOpt = None) -> None:
    """Stop the warm tracker; runs it has not delivered stay in the outbox."""
    state = get_state(ctx)
    pid = Workspace.load(file).stop_tracker()
    state.console.print("no warm tracker was running" if pid is None else f"stopped pid {pid}")
