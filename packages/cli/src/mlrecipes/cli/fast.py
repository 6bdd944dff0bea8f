"""Answers that come before typer's app is built: Tab completion and a no-op ``run``.

Building the whole command tree costs most of a second; a Tab press and a ``run``
with nothing to do answer without it. Each path understands only a plain subset of
the command line and returns None for anything else: the full CLI then answers.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlrecipes.core.paths import WorkspacePaths

COMPLETE_VAR = "_MLRECIPES_COMPLETE"
_FILE = ("-f", "--file")
_SET = ("-S", "--set-param")
_VERBOSE = ("-v", "--verbose")
_JOBS = ("-j", "--jobs")  # how many side by side: no part of the plan


def answer(argv: Sequence[str], environ: Mapping[str, str]) -> int | None:
    """The exit code of a command answered here, or None to build the full CLI."""
    if COMPLETE_VAR in environ:
        return _complete(environ)
    return _noop_run(list(argv), environ)


# ---- Tab completion (typer's bash protocol: one candidate a line) ----


def _complete(environ: Mapping[str, str]) -> int | None:
    if environ[COMPLETE_VAR] != "complete_bash":
        return None
    try:
        words = shlex.split(environ.get("COMP_WORDS", ""))
        cword = int(environ.get("COMP_CWORD", ""))
    except ValueError:
        return None
    args, incomplete = words[1:cword], words[cword] if cword < len(words) else ""
    found = _candidates(args, incomplete)
    if found is None:
        return None
    print("\n".join(found))
    return 0


def _candidates(args: list[str], incomplete: str) -> list[str] | None:
    """Step names and ``-S`` keys of ``run``; None (the full CLI) for the rest."""
    from mlrecipes.core.manifest.completion import override_keys, step_names

    parsed = _parse_run(args, allow_pending=True)
    if parsed is None or incomplete.startswith("-"):
        return None
    manifest, _, _, pending = parsed
    path = Path(manifest) if manifest else None
    if pending in _SET:
        if "=" in incomplete:
            return []
        return [f"{key}=" for key in override_keys(path) if key.startswith(incomplete)]
    if pending is None:
        return [name for name in step_names(path) if name.startswith(incomplete)]
    return None


def _parse_run(
    args: list[str], *, allow_pending: bool = False
) -> tuple[str | None, list[str], list[str], str | None] | None:
    """``[-v] [-f X] run [-f X] [-S K=V]... [STEP]...``: (manifest, overrides, steps,
    the option still waiting for its value); None for anything else."""
    manifest: str | None = None
    overrides: list[str] = []
    steps: list[str] = []
    command = False
    i = 0
    while i < len(args):
        word = args[i]
        if word in _VERBOSE:
            i += 1
            continue
        if (
            command
            and word in _JOBS
            and i + 1 < len(args)
            and args[i + 1].isdigit()
            and int(args[i + 1]) >= 1
        ):
            i += 2
            continue
        if word in _FILE or (command and word in _SET):
            if i + 1 == len(args):
                return (manifest, overrides, steps, word) if allow_pending else None
            if word in _FILE:
                manifest = args[i + 1]
            else:
                overrides.append(args[i + 1])
            i += 2
            continue
        if word.startswith("-"):
            return None
        if not command:
            if word != "run":
                return None
            command = True
        else:
            steps.append(word)
        i += 1
    return (manifest, overrides, steps, None) if command else None


# ---- a no-op `run` ----


def _noop_run(argv: list[str], environ: Mapping[str, str]) -> int | None:
    """Print "up to date" from the stamp of the last run when nothing it relied on changed."""
    parsed = _parse_run(argv)
    if parsed is None or environ.get("PYTHONPATH"):
        return None  # PYTHONPATH: the full path has a note to print
    manifest, overrides, steps, _ = parsed
    from mlrecipes.core.errors import UserError
    from mlrecipes.core.manifest.discover import find_manifest
    from mlrecipes.core.paths import WorkspacePaths
    from mlrecipes.core.run.stamp import StampRequest, check_stamp

    try:
        path = find_manifest(Path(manifest) if manifest else None).resolve()
    except UserError:
        return None
    paths = WorkspacePaths(path.parent)
    if paths.upstream_record.exists():
        return None  # the full path may have an update hint to print
    request = StampRequest(str(path), tuple(steps), tuple(overrides))
    hit = check_stamp(request)
    if hit is None:
        return None
    return _report_up_to_date(paths, hit.run_ids, hit.entries, hit.envs)


def _report_up_to_date(
    paths: WorkspacePaths,
    run_ids: Sequence[str],
    entries: Sequence[tuple[str, str]],
    envs: Sequence[str],
) -> int:
    from rich.console import Console

    from mlrecipes.cli.render import EventPrinter
    from mlrecipes.core.store.usage import write_usage
    from mlrecipes.core.tracking.outbox import RunIds
    from mlrecipes.core.tracking.pending import report_waiting

    write_usage(paths.runs, entries, envs)  # `store gc --keep-last` counts this run too
    ids = RunIds(paths.outbox)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    with EventPrinter(err, verbose=False) as printer:
        report_waiting(paths, printer)
    out = Console(highlight=False, soft_wrap=True)
    for run_id in run_ids:
        out.print(f"[green]up to date[/]: run {ids.resolve(run_id)}")
    return 0
