"""``mlrecipes dag``: show the DAG of steps."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer

from mlrecipes.cli.options import ManifestOpt, TargetsArg
from mlrecipes.cli.render import EventPrinter
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace


class DagFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"
    html = "html"


_GRAPH_FORMATS: dict[DagFormat, Literal["text", "mermaid", "dot"]] = {
    DagFormat.text: "text",
    DagFormat.mermaid: "mermaid",
    DagFormat.dot: "dot",
}


def dag(
    ctx: typer.Context,
    steps: TargetsArg = None,
    file: ManifestOpt = None,
    fmt: Annotated[
        DagFormat,
        typer.Option("--format", metavar="text|mermaid|dot|html", help="Output format."),
    ] = DagFormat.text,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set-param", "-S", metavar="KEY=VALUE", help="With --format html: plan with it."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="PATH", help="Write to PATH, not stdout."),
    ] = None,
) -> None:
    """Print the DAG of steps (mermaid renders on GitHub; dot for Graphviz; html: the
    pipeline page every run logs, each step's status from the plan, as --dry-run says)."""
    ws = Workspace.load(file)
    if fmt is DagFormat.html:
        state = get_state(ctx)
        with EventPrinter(state.err, verbose=state.verbose) as printer:
            text = ws.dag_page(steps or (), overrides=set_ or (), on_event=printer)
    else:
        text = ws.dag(_GRAPH_FORMATS[fmt])
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
