"""Per-invocation settings passed to commands through the click context."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from rich.console import Console


@dataclass
class State:
    """What the top-level options decided; one instance per invocation."""

    verbose: bool = False
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )


def get_state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
