"""``mlrecipes dag``: show the DAG of steps."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.core import Workspace


class DagFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


def dag(
    file: ManifestOpt = None,
    fmt: Annotated[
        DagFormat, typer.Option("--format", metavar="text|mermaid|dot", help="Output format.")
    ] = DagFormat.text,
) -> None:
    """Print the DAG of steps (mermaid renders on GitHub; dot for Graphviz)."""
    typer.echo(Workspace.load(file).dag(fmt.value))
