"""``mlrecipes validate``: check a manifest without running anything."""

from __future__ import annotations

import typer

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace


def validate(ctx: typer.Context, file: ManifestOpt = None) -> None:
    """Check a manifest: syntax, tags, references, the DAG. Exit 1 on any problem."""
    ws = Workspace.load(file)
    m = ws.manifest
    get_state(ctx).console.print(
        f"[green]ok[/] {m.path}: {_count(len(m.repos), 'repo')}, {_count(len(m.steps), 'step')}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
