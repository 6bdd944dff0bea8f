"""``mlrecipes workspace sync|update|status``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlrecipes.cli.hints import change_line, update_hint, upstream_cell
from mlrecipes.cli.options import (
    DevOpt,
    FrozenOpt,
    JobsOpt,
    LockedOpt,
    ManifestOpt,
    parse_dev,
    sync_mode,
)
from mlrecipes.cli.render import EventPrinter
from mlrecipes.cli.sanitize import escape
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.sync.upstream import (
    check_upstream,
    commit_changes,
    locked_commits,
    locked_git_refs,
)
from mlrecipes.git_sources import short_commit

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
    ws = Workspace.load(file, dev=parse_dev(dev))
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
        list[str] | None, typer.Argument(metavar="REPO", help="Repos to update (default: all).")
    ] = None,
    file: ManifestOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Re-resolve moving revs (branches) and rewrite workspace.lock."""
    state = get_state(ctx)
    ws = Workspace.load(file)
    names = repos or list(ws.manifest.repos)
    before, refs_before = locked_commits(ws.manifest), locked_git_refs(ws.manifest)
    with EventPrinter(state.err, verbose=state.verbose) as printer:
        result = ws.sync(update=names, jobs=jobs, on_event=printer)
    after = {name: result.repos[name].source.commit for name in names}
    refs_after = locked_git_refs(ws.manifest)
    for change in commit_changes(ws.manifest, before, after, refs_before, refs_after):
        state.console.print(change_line(change))


@app.command("status")
def status(
    ctx: typer.Context,
    file: ManifestOpt = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Do not ask the remotes whether their branches moved."),
    ] = False,
) -> None:
    """A table of repos: rev, locked commit, upstream, checkout and environment state."""
    ws = Workspace.load(file)
    rows = ws.status()
    upstream = {u.repo: u for u in check_upstream(ws.manifest, offline=offline)}
    table = Table("repo", "rev", "locked commit", "upstream", "checkout", "environment")
    colors = {"clean": "green", "ready": "green", "dev": "cyan"}
    for row in rows:
        table.add_row(
            escape(row.repo + (f" ({row.subdir})" if row.subdir else "")),
            escape(row.rev),
            short_commit(row.locked_commit) if row.locked_commit else "-",
            upstream_cell(upstream.get(row.repo)),
            f"[{colors.get(row.checkout, 'yellow')}]{row.checkout}[/]",
            f"[{colors.get(row.environment, 'yellow')}]{row.environment}[/]",
        )
    console = get_state(ctx).console
    console.print(table)
    for up in upstream.values():
        if up.error is not None:
            console.print(f"[yellow]{escape(up.repo)}:[/] cannot ask upstream: {escape(up.error)}")
    hint = update_hint(list(upstream.values()))
    if hint:
        console.print(hint)
    if offline:
        console.print("[dim]offline: upstream as of the last fetch[/]")
