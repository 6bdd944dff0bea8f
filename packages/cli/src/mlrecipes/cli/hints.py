"""How the CLI words a lock that is behind its branch upstream (status, run, update)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape

from mlrecipes.core.sync.upstream import CommitChange, Upstream
from mlrecipes.git_sources import short_commit


def _commits(count: int) -> str:
    return f"{count} commit{'s' if count != 1 else ''}"


def upstream_cell(row: Upstream | None) -> str:
    """The ``upstream`` column of ``workspace status``."""
    if row is None or (row.head is None and row.error is None):
        return "-"  # a tag, a SHA, a dev copy or nothing locked: nothing can move
    if row.error is not None:
        return "[yellow]not reachable[/]"
    if not row.moved:
        return "[green]up to date[/]"
    if row.behind is not None:
        return f"[yellow]{_commits(row.behind)} behind[/]"
    return f"[yellow]moved to {short_commit(row.head or '')}[/]"


def update_hint(rows: Sequence[Upstream]) -> str | None:
    """One line naming the repos whose branch moved and the command that takes it."""
    moved = [r for r in rows if r.moved]
    if not moved:
        return None
    parts = []
    for row in moved:
        news = f", {_commits(row.behind)} ahead" if row.behind else ""
        parts.append(f"{row.repo} ({row.rev} is at {short_commit(row.head or '')}{news})")
    names = " ".join(r.repo for r in moved)
    return (
        f"[cyan]hint:[/] upstream moved: {escape(', '.join(parts))}; "
        f"run `mlrecipes workspace update {escape(names)}`"
    )


def change_line(change: CommitChange) -> str:
    """``repo: old -> new (N commits)`` for ``workspace update``."""
    new = short_commit(change.new)
    if change.old is None:
        return f"{escape(change.repo)}: {new} (newly locked)"
    deps = "".join(
        f"; dependency {escape(key)}: {short_commit(was) if was else 'new'} -> {short_commit(now)}"
        for key, was, now in change.refs
    )
    if change.old == change.new:
        return f"{escape(change.repo)}: {new}{deps or ' (unchanged)'}"
    count = f" ({_commits(change.commits)})" if change.commits is not None else ""
    return f"{escape(change.repo)}: {short_commit(change.old)} -> {new}{count}{deps}"


def pythonpath_note() -> str | None:
    """One line when ``PYTHONPATH`` is set: steps run without it, and the user should know."""
    from mlrecipes.core.executors import dropped_search_path

    if dropped_search_path() is None:
        return None
    return (
        "[dim]note: PYTHONPATH is set but not passed to steps: each step imports only "
        "from its repo's environment (use `uses:` or the repo's own dependencies)[/]"
    )
