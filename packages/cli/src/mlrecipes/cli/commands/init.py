"""``mlrecipes init [--repo NAME=URL[@REV][#SUBDIR]...]``: a commented manifest to start from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlrecipes.cli.state import get_state
from mlrecipes.core.manifest.discover import MANIFEST_NAME
from mlrecipes.core.manifest.template import NewRepo, init_workspace

# The '@' before a host (https://user@host/..., git@host:path) is no rev separator.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/]*|[^/:]*)$")


def parse_repo(value: str) -> NewRepo:
    """``NAME=URL[@REV][#SUBDIR]`` as a :class:`NewRepo` (no REV: its default branch)."""
    name, sep, rest = value.partition("=")
    rest, _, subdir = rest.partition("#")
    url, rev = rest, None
    at = rest.rfind("@")
    if at > 0:
        before, after = rest[:at], rest[at + 1 :]
        userinfo = ":" in after or (_USERINFO.match(before) is not None and "/" in after)
        if not userinfo and after:
            url, rev = before, after
    if not sep or not name or not url:
        raise typer.BadParameter(
            f"{value!r} is not NAME=URL[@REV][#SUBDIR] (e.g. models=../models@main#pkg)",
            param_hint="'--repo'",
        )
    return NewRepo(name=name, url=url, rev=rev, subdir=subdir or None)


def init(
    ctx: typer.Context,
    repo: Annotated[
        list[str] | None,
        typer.Option(
            "--repo",
            metavar="NAME=URL[@REV][#SUBDIR]",
            help="A repo for the manifest (repeatable); REV defaults to its default branch.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar="PATH",
            dir_okay=False,
            help=f"Where to write the manifest (default: {MANIFEST_NAME} here).",
        ),
    ] = None,
) -> None:
    """Write a commented workspace.yaml (never over an existing one); git-ignore .mlrecipes/."""
    repos = [parse_repo(value) for value in repo or ()]
    result = init_workspace(file or Path(MANIFEST_NAME), repos)
    console = get_state(ctx).console
    console.print(f"[green]wrote[/] {escape(str(result.manifest))}")
    for chosen in result.chosen:
        if chosen.problem:
            console.print(
                f"[yellow]{escape(chosen.repo)}: rev {escape(chosen.rev)}[/] (could not ask for "
                f"its default branch: {escape(chosen.problem)}; change it in the file if wrong)"
            )
        else:
            console.print(f"{escape(chosen.repo)}: rev {escape(chosen.rev)} (its default branch)")
    if result.gitignore_changed:
        ignored = f".mlrecipes/, outputs/, {result.manifest.stem}.local.yaml"
        console.print(f"[green]updated[/] {escape(str(result.gitignore))} ({escape(ignored)})")
    follow = "mlrecipes validate, then mlrecipes run" if repos else "add your repos and steps"
    console.print(f"next: {follow} (the comments in the file say how)")
