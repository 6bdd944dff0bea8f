"""Finding the manifest, like git finds ``.git``: this folder or the nearest parent."""

from __future__ import annotations

import errno
from pathlib import Path

from mlrecipes.core.errors import UserError

MANIFEST_NAME = "workspace.yaml"


def find_manifest(explicit: Path | None = None, *, start: Path | None = None) -> Path:
    """The manifest to use: ``explicit`` if given, else the nearest ``workspace.yaml``."""
    if explicit is not None:
        path = explicit.expanduser()
        if not path.is_file():
            _refuse_odd(path)
            raise UserError(
                f"manifest {explicit} does not exist",
                hint="check the path given to `Workspace.load(path)`",
            )
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / MANIFEST_NAME
        if candidate.is_file():
            return candidate
        _refuse_odd(candidate)
    raise UserError(
        f"no {MANIFEST_NAME} in {here} or any parent folder",
        hint="run the command inside a workspace, or pass the manifest to `Workspace.load(path)`",
    )


def _refuse_odd(path: Path) -> None:
    """Say what ``path`` is when it exists but is not a file (never "missing")."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(
                f"manifest {path} is a symbolic link loop",
                hint="point the link at a workspace.yaml file",
            ) from None
        if path.is_symlink():
            raise UserError(
                f"manifest {path} is a link to {path.readlink()}, which does not exist",
                hint="point the link at a workspace.yaml file",
            ) from None
        return
    if path.is_dir():
        raise UserError(
            f"manifest {path} is a folder, not a file",
            hint="the manifest is the workspace.yaml file; rename or remove that folder",
        )
    if path.exists():
        raise UserError(f"manifest {path} is not a regular file", hint="use a workspace.yaml file")
