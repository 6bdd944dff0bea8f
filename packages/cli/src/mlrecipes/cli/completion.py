"""Shell completion callbacks: step names and ``-S`` keys from the manifest in use.

The manifest is the command's ``-f``, else the global one, else the nearest
``workspace.yaml``; :mod:`mlrecipes.core.manifest.completion` reads it without loading
anything heavy, so a Tab answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlrecipes.core.manifest.completion import override_keys, step_names


def _manifest(ctx: typer.Context) -> Path | None:
    node: Any = ctx
    while node is not None:
        value = node.params.get("file")
        if value:
            return Path(value)
        node = node.parent
    return None


def complete_steps(ctx: typer.Context, incomplete: str) -> list[str]:
    return [name for name in step_names(_manifest(ctx)) if name.startswith(incomplete)]


def complete_overrides(ctx: typer.Context, incomplete: str) -> list[str]:
    """``train.lr=`` for ``-S tr<Tab>``; nothing once a value is being typed."""
    if "=" in incomplete:
        return []
    return [f"{key}=" for key in override_keys(_manifest(ctx)) if key.startswith(incomplete)]
