"""``mlrecipes store gc``."""

from __future__ import annotations

from typing import Annotated

import typer

from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.sanitize import escape
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.store.gc import DEFAULT_KEEP_LAST
from mlrecipes.core.team_store.config import human_size

app = typer.Typer(help="The local step store, environments and git mirrors.")


@app.command("gc")
def gc(
    ctx: typer.Context,
    file: ManifestOpt = None,
    keep_last: Annotated[
        int,
        typer.Option("--keep-last", min=0, metavar="N", help="Keep what the last N runs used."),
    ] = DEFAULT_KEEP_LAST,
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            min=0,
            metavar="DAYS",
            help="Only remove what is older than DAYS; also frees git mirrors of other "
            "repos not fetched for DAYS.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go and the space freed.")
    ] = False,
) -> None:
    """Free store entries, environments and mirrors that no current state needs."""
    state = get_state(ctx)
    ws = Workspace.load(file)
    result = ws.gc(keep_last=keep_last, older_than_days=older_than, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in result.removed:
        state.console.print(
            f"{verb} {item.kind} {escape(item.name)} ({human_size(item.size)}, "
            f"{item.age_days:.0f} days old)"
        )
    freed = human_size(result.freed)
    summary = "would free" if dry_run else "freed"
    state.console.print(
        f"[green]{summary} {freed}[/] ({len(result.removed)} removed, {result.kept} kept)"
    )
