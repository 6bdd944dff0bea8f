"""``workspace.local.yaml``: developer working copies that stand in for pinned repos.

It sits next to the manifest (``<stem>.local<suffix>``), is git-ignored, and may
only hold ``repos: {NAME: {path: FOLDER}}``; folders are relative to the
manifest's folder and must exist.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mlrecipes.core.errors import Problem
from mlrecipes.core.manifest._context import Context
from mlrecipes.core.manifest._yaml import Entry, parse_yaml
from mlrecipes.core.manifest.model import Location
from mlrecipes.core.suggest import did_you_mean


def local_path(manifest: Path) -> Path:
    """Where the overlay of ``manifest`` lives: ``workspace.local.yaml`` for ``workspace.yaml``."""
    return manifest.with_name(f"{manifest.stem}.local{manifest.suffix or '.yaml'}")


def read_local(
    file: Path, root: Path, repos: Collection[str]
) -> tuple[dict[str, Path], list[Problem]]:
    """Dev paths of the overlay ``file`` (absolute), and its problems."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Problem(file, 1, 1, f"cannot read the file: {exc}")]
    tree, problems = parse_yaml(text, file)
    ctx = Context(file, problems)
    top = ctx.mapping(tree, Location(file, 1, 1), "", "a mapping with `repos:`")
    if top is None:
        return {}, ctx.problems
    ctx.keys(top, "", ("repos",))
    entry = top.entries.get("repos")
    repos_map = ctx.mapping(entry.value, entry.value_loc, "repos") if entry else None
    dev: dict[str, Path] = {}
    for name, item in (repos_map.entries if repos_map else {}).items():
        path = _dev_path(ctx, name, item, root)
        if name not in repos:
            ctx.report(
                item.key_loc,
                f"unknown repo {name!r} in the local overlay",
                f"repos.{name}",
                did_you_mean(name, repos),
            )
        elif path is not None:
            dev[name] = path
    return dev, ctx.problems


def _dev_path(ctx: Context, name: str, entry: Entry, root: Path) -> Path | None:
    key_path = f"repos.{name}"
    ymap = ctx.mapping(entry.value, entry.value_loc, key_path, "a mapping with `path:`")
    if ymap is None:
        return None
    ctx.keys(ymap, key_path, ("path",), ("path",), owner=entry.key_loc)
    path_entry = ymap.entries.get("path")
    text = ctx.text(path_entry, f"{key_path}.path") if path_entry else None
    if path_entry is None or text is None:
        return None
    folder = (root / Path(text).expanduser()).resolve()
    if not folder.is_dir():
        ctx.report(
            path_entry.value_loc,
            f"dev folder {text!r} does not exist",
            f"{key_path}.path",
            f"it resolves to {folder}",
        )
        return None
    return folder
