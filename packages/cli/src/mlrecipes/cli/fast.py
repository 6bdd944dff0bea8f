"""Answers that come before typer's app is built: Tab completion and a plain ``run``.

Building the whole command tree costs most of a second; a Tab press, a ``run``
with nothing to do (answered from its stamp) and a plain ``run [-S K=V]...
[STEP]...`` (the rerun after changing one param) answer without it. Each path
understands only a plain subset of the command line and returns None for anything
else (another option, ``--help``, another command): the full CLI then answers.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlrecipes.core.paths import WorkspacePaths

COMPLETE_VAR = "_MLRECIPES_COMPLETE"
_FILE = ("-f", "--file")
_SET = ("-S", "--set-param")
_VERBOSE = ("-v", "--verbose")
_JOBS = ("-j", "--jobs")  # how many side by side: no part of the stamp


def answer(argv: Sequence[str], environ: Mapping[str, str]) -> int | None:
    """The exit code of a command answered here, or None to build the full CLI."""
    if COMPLETE_VAR in environ:
        return _complete(environ)
    parsed = _parse_run(list(argv))
    if parsed is None:
        return None
    code = _noop_run(parsed, environ)
    return code if code is not None else _plain_run(parsed)


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
    pending = parsed.pending
    path = Path(parsed.manifest) if parsed.manifest else None
    if pending in _SET:
        if "=" in incomplete:
            return []
        return [f"{key}=" for key in override_keys(path) if key.startswith(incomplete)]
    if pending is None:
        return [name for name in step_names(path) if name.startswith(incomplete)]
    return None


@dataclass(frozen=True)
class PlainRun:
    """``[-v] [-f X] run [-f X] [-j N] [-S K=V]... [STEP]...``, as typed."""

    manifest: str | None = None
    overrides: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    jobs: int | None = None
    verbose: bool = False
    pending: str | None = None  # the option still waiting for its value (Tab)


def _parse_run(args: list[str], *, allow_pending: bool = False) -> PlainRun | None:
    """A plain ``run`` command line, or None for anything else (the full CLI parses it)."""
    found: dict[str, Any] = {"overrides": [], "steps": []}
    command = False
    i = 0
    while i < len(args):
        word = args[i]
        if word in _VERBOSE:
            found["verbose"] = True
            i += 1
            continue
        if command and word in _JOBS and i + 1 < len(args) and _count(args[i + 1]):
            found["jobs"] = int(args[i + 1])
            i += 2
            continue
        if word in _FILE or (command and word in _SET):
            if i + 1 == len(args):
                return _plain(found, pending=word) if allow_pending and command else None
            if word in _FILE:
                found["manifest"] = args[i + 1]
            else:
                found["overrides"].append(args[i + 1])
            i += 2
            continue
        if word.startswith("-"):
            return None
        if not command:
            if word != "run":
                return None
            command = True
        else:
            found["steps"].append(word)
        i += 1
    return _plain(found) if command else None


def _count(word: str) -> bool:
    return word.isdigit() and int(word) >= 1


def _plain(found: dict[str, Any], pending: str | None = None) -> PlainRun:
    return PlainRun(
        manifest=found.get("manifest"),
        overrides=tuple(found["overrides"]),
        steps=tuple(found["steps"]),
        jobs=found.get("jobs"),
        verbose=found.get("verbose", False),
        pending=pending,
    )


# ---- a no-op `run` ----


def _noop_run(parsed: PlainRun, environ: Mapping[str, str]) -> int | None:
    """Print "up to date" from the stamp of the last run when nothing it relied on changed."""
    if environ.get("PYTHONPATH"):
        return None  # the full path has a note to print
    from mlrecipes.core.errors import UserError
    from mlrecipes.core.manifest.discover import find_manifest
    from mlrecipes.core.paths import WorkspacePaths
    from mlrecipes.core.run.stamp import StampRequest, check_stamp

    try:
        path = find_manifest(Path(parsed.manifest) if parsed.manifest else None).resolve()
    except UserError:
        return None
    paths = WorkspacePaths(path.parent)
    if paths.upstream_record.exists():
        return None  # the full path may have an update hint to print
    hit = check_stamp(StampRequest(str(path), parsed.steps, parsed.overrides))
    if hit is None:
        return None
    return _report_up_to_date(paths, hit.run_ids, hit.entries, hit.envs)


# ---- a plain `run` ----


def _plain_run(parsed: PlainRun) -> int:
    """Run it as the ``run`` command would (:mod:`mlrecipes.cli.run_flow`), minus typer."""
    from mlrecipes.cli import errors
    from mlrecipes.cli.run_flow import run_and_report
    from mlrecipes.cli.state import State, start
    from mlrecipes.core.run.options import RunOptions

    state = start(State(), verbose=parsed.verbose)
    options = RunOptions(overrides=parsed.overrides, jobs=parsed.jobs, live_logs=parsed.verbose)
    try:
        file = Path(parsed.manifest) if parsed.manifest else None
        run_and_report(state, file=file, steps=parsed.steps, options=options)
    except (Exception, KeyboardInterrupt) as exc:  # as the app's error-handling group does
        return errors.report(exc, console=state.err, verbose=state.verbose)
    return 0


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
