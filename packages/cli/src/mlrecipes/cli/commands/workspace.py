"""``mlrecipes workspace sync|update|status``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlrecipes.cli.options import DevOpt, FrozenOpt, JobsOpt, LockedOpt, ManifestOpt
from mlrecipes.cli.render import EventPrinter
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace, parse_dev_options, sync_mode

app = typer.Typer(help="Check out repos, build environments, write workspace.lock.")


@app.command("sync")
def sync(
    ctx: typer.Context,
    file: ManifestOpt = None,
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    jobs: JobsOpt = None,
    dev: DevOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite checkouts edited by hand.")
    ] = False,
    reinstall: Annotated[
        bool,
        typer.Option("--reinstall", help="Rebuild the environments of REPOs (default: all)."),
    ] = False,
    repos: Annotated[
        list[str] | None, typer.Argument(help="Repos to --reinstall.", show_default=False)
    ] = None,
) -> None:
    """Check out each repo at its locked commit, build its uv environment, write the lock."""
    state = get_state(ctx)
    if repos and not reinstall:
        raise typer.BadParameter("repo names go with --reinstall", param_hint="REPO")
    ws = Workspace.load(file, dev=parse_dev_options(dev))
    mode = sync_mode(locked=locked, frozen=frozen)
    rebuild = (repos or list(ws.manifest.repos)) if reinstall else []
    with EventPrinter(state.err, verbose=state.verbose) as printer:
        result = ws.sync(mode=mode, jobs=jobs, force=force, on_event=printer, reinstall=rebuild)
    count = len(result.repos)
    state.console.print(f"[green]synced[/] {count} repo{'s' if count != 1 else ''}")


@app.command("update")
def update(
    ctx: typer.Context,
    repos: Annotated[
        list[str] | None, typer.Argument(help="Repos to update (default: all).")
    ] = None,
    file: ManifestOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Re-resolve moving revs (branches) and rewrite workspace.lock."""
    state = get_state(ctx)
    ws = Workspace.load(file)
    names = repos or list(ws.manifest.repos)
    with EventPrinter(state.err, verbose=state.verbose) as printer:
        result = ws.sync(update=names, jobs=jobs, on_event=printer)
    for name in names:
        state.console.print(f"{name}: {result.repos[name].source.commit[:12]}")


@app.command("status")
def status(ctx: typer.Context, file: ManifestOpt = None) -> None:
    """A table of repos: rev, locked commit, checkout and environment state."""
    rows = Workspace.load(file).status()
    table = Table("repo", "rev", "locked commit", "checkout", "environment")
    colors = {"clean": "green", "ready": "green", "dev": "cyan"}
    for row in rows:
        table.add_row(
            row.repo + (f" ({row.subdir})" if row.subdir else ""),
            row.rev,
            (row.locked_commit or "-")[:12],
            f"[{colors.get(row.checkout, 'yellow')}]{row.checkout}[/]",
            f"[{colors.get(row.environment, 'yellow')}]{row.environment}[/]",
        )
    get_state(ctx).console.print(table)
