"""Finding the manifest, like git finds ``.git``: this folder or the nearest parent."""

from __future__ import annotations

from pathlib import Path

from mlrecipes.core.errors import UserError

MANIFEST_NAME = "workspace.yaml"


def find_manifest(explicit: Path | None = None, *, start: Path | None = None) -> Path:
    """The manifest to use: ``explicit`` if given, else the nearest ``workspace.yaml``."""
    if explicit is not None:
        path = explicit.expanduser()
        if not path.is_file():
            raise UserError(
                f"manifest {explicit} does not exist",
                hint="check the path given with -f/--file",
            )
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / MANIFEST_NAME
        if candidate.is_file():
            return candidate
    raise UserError(
        f"no {MANIFEST_NAME} in {here} or any parent folder",
        hint="run the command inside a workspace, or pass the manifest with -f/--file",
    )
