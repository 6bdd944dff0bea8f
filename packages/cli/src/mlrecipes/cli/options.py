"""Option types shared by several commands (``Annotated`` aliases)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlrecipes.cli.completion import complete_steps

if TYPE_CHECKING:
    from mlrecipes.core import SyncMode

ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        metavar="PATH",
        help="The manifest (default: workspace.yaml in this folder or the nearest parent).",
        dir_okay=False,
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, metavar="N", help="How many things to do side by side."),
]
DevOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--dev",
        metavar="REPO=PATH",
        help="Use a local working copy for REPO instead of its pinned commit (repeatable).",
    ),
]


def parse_dev(values: list[str] | None) -> dict[str, Path]:
    """``--dev REPO=PATH`` values; the core resolves PATH from the manifest's folder."""
    result: dict[str, Path] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(
                f"{value!r} is not REPO=PATH (e.g. --dev models=../models)", param_hint="'--dev'"
            )
        result[name] = Path(path)
    return result


class RayStorage(StrEnum):
    shared = "shared"
    store = "store"


RayStorageOpt = Annotated[
    RayStorage | None,
    typer.Option(
        "--ray-storage",
        metavar="shared|store",
        help="How Ray nodes get code and data: a shared workspace folder, or the team "
        "store (default: the manifest's executor.storage, else shared).",
    ),
]
LockedOpt = Annotated[bool, typer.Option("--locked", help="Fail if workspace.lock would change.")]
FrozenOpt = Annotated[
    bool,
    typer.Option("--frozen", help="Use workspace.lock as it is, without resolving revs (CI)."),
]


def sync_mode(*, locked: bool = False, frozen: bool = False) -> SyncMode:
    """The mode that ``--locked`` / ``--frozen`` ask for (they exclude each other)."""
    if locked and frozen:
        raise typer.BadParameter("--locked and --frozen exclude each other: give one of them")
    return "frozen" if frozen else "locked" if locked else "resolve"


TargetsArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="STEP",
        help="Run up to these steps (default: all).",
        autocompletion=complete_steps,
    ),
]
"""The target steps of ``run`` and ``tune``."""
