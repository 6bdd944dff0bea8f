"""``mlrecipes ui``: the MLflow UI on this workspace's tracking store, started lean."""

from __future__ import annotations

from typing import Annotated

import typer

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace


def ui(
    ctx: typer.Context,
    file: ManifestOpt = None,
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="ADDRESS", help="The address to listen on (0.0.0.0: every interface)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            "--port", "-p", min=1, max=65535, metavar="PORT", help="Default: 5000, else a free one."
        ),
    ] = None,
) -> None:
    """Open the experiment in the MLflow UI: starts one on the embedded store, or prints
    the tracking server's page."""
    from mlrecipes.core.tracking.ui import (  # urllib, sockets: only this command needs them
        plan_ui,
        serve,
    )

    state = get_state(ctx)
    ws = Workspace.load(file)
    ws.push_runs()  # runs still in the outbox show in the UI too
    plan = plan_ui(ws.manifest, host=host, port=port)
    if not plan.command:
        state.console.print(f"MLflow UI of the tracking server: {plan.url}")
        return
    state.err.print(f"starting the MLflow UI (log: {plan.log}) ...")
    serve(plan, lambda url: state.console.print(f"MLflow UI: {url}  (Ctrl-C stops it)"))
