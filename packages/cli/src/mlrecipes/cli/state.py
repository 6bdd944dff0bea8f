"""Per-invocation settings passed to commands through the click context."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # typer is imported by the app, not by the paths that answer before it
    import typer


@dataclass
class State:
    """What the top-level options decided; one instance per invocation."""

    verbose: bool = False
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )


def start(state: State, *, verbose: bool) -> State:
    """Set up an invocation: ``-v``, log redaction, MLflow's one-time notices quieted.

    Called by the app's root callback and by :mod:`mlrecipes.cli.fast` alike.
    """
    from mlrecipes.cli import sanitize

    state.verbose = verbose
    sanitize.install_log_redaction()
    if not verbose:
        # MLflow announces its one-time schema migrations at INFO; they are no news to users.
        for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return state


def get_state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
