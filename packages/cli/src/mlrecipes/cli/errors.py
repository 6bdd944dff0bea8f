"""The one table that maps errors to messages and exit codes.

0 ok · 1 user error · 2 usage · 3 internal error (a bug) · 4 a step failed ·
5 ``reproduce`` found drift · 130 interrupted. No traceback unless ``-v``.
"""

from __future__ import annotations

import errno
import traceback
from functools import cache
from typing import TYPE_CHECKING, Final

from mlrecipes.cli.sanitize import escape
from mlrecipes.core.errors import (
    DriftDetected,
    ManifestError,
    MlrecipesError,
    Problem,
    StepFailed,
    UserError,
)

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK: Final = 0
EXIT_USER: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3
EXIT_STEP_FAILED: Final = 4
EXIT_DRIFT: Final = 5
EXIT_INTERRUPTED: Final = 130

ISSUES_URL: Final = "https://github.com/mlrecipes/mlrecipes/issues"


# Most specific first: the first class an error is an instance of decides.
@cache
def _table() -> tuple[tuple[type[BaseException], int, str], ...]:
    from mlrecipes.git_sources.errors import GitSourceError  # only an error needs it

    return (
        (StepFailed, EXIT_STEP_FAILED, "error"),
        (DriftDetected, EXIT_DRIFT, "drift"),
        (UserError, EXIT_USER, "error"),
        (GitSourceError, EXIT_USER, "error"),
        (MlrecipesError, EXIT_USER, "error"),
        (KeyboardInterrupt, EXIT_INTERRUPTED, "interrupted"),
    )


# Core hints name the Python API's options in backticks (core knows no argv); the
# CLI shows the flag that sets each one.
API_FLAGS: Final[dict[str, str]] = {
    "`Workspace.load(path)`": "-f/--file",
    "`dev`": "--dev",
    "`force`": "--force",
    "`host`": "--host",
    "`init_workspace(manifest)`": "-f",
    "`mode='frozen'`": "--frozen",
    "`mode='locked'`": "--locked",
    "`large_sweep=True`": "--yes",
    "`objective`": "--objective",
    "`overrides`": "-S",
    "`port`": "--port",
    "`ray_address`": "--ray-address",
    "`ray_storage`": "--ray-storage",
    "`repos`": "--repo",
    "`sampler`": "--sampler",
    "`space`": "-S",
    "`storage`": "--storage",
    "`study`": "--study",
    "`tracking_uri`": "--tracking-uri",
    "`workdir`": "--workdir",
}


def cli_words(hint: str) -> str:
    """``hint`` with each API option it names shown as the CLI flag that sets it."""
    for option, flag in API_FLAGS.items():
        hint = hint.replace(option, flag)
    return hint


def _snippet(problem: Problem) -> str | None:
    """The problem's line of the file with a caret under its column."""
    try:
        lines = problem.file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not 1 <= problem.line <= len(lines):
        return None
    text = lines[problem.line - 1]
    return f"    {text}\n    {' ' * max(problem.col - 1, 0)}^"


def _report_manifest(exc: ManifestError, console: Console) -> None:
    count = len(exc.problems)
    console.print(f"[bold red]error:[/] {count} problem{'s' if count != 1 else ''} in the manifest")
    for problem in exc.problems:
        where = f"{problem.file}:{problem.line}:{problem.col}"
        key = f" [{problem.key_path}]" if problem.key_path else ""
        console.print(f"{escape(where)}: {escape(problem.message)}{escape(key)}")
        snippet = _snippet(problem)
        if snippet:
            console.print(escape(snippet), style="dim")
        if problem.hint:
            console.print(f"  [cyan]hint:[/] {escape(problem.hint)}")


# Disk and permission faults are the machine's state, not a bug: a user error
# naming the file and what to do (full disk, read-only mount, permissions).
_DISK_FAULTS: Final[dict[int, tuple[str, str]]] = {
    errno.ENOSPC: ("no space left on the device", "free space on that disk (see `df -h`)"),
    errno.EDQUOT: ("disk quota exceeded", "free space or raise the quota"),
    errno.EROFS: (
        "read-only file system",
        "mlrecipes writes under .mlrecipes/ (store, checkouts, locks) and the declared "
        "output places: run from a writable copy of the workspace, or remount it writable",
    ),
    errno.EACCES: ("permission denied", "check the owner and permissions of that path"),
    errno.EPERM: ("operation not permitted", "check the owner and permissions of that path"),
    errno.ENAMETOOLONG: (
        "file name too long",
        "give a shorter name (most file systems take 255 bytes per name)",
    ),
}


def disk_fault(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (itself or a cause) that is a disk or permission fault."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FAULTS:
            return current
        current = current.__cause__ or current.__context__
    return None


def _report_disk_fault(fault: OSError, console: Console) -> None:
    what, hint = _DISK_FAULTS[fault.errno or 0]
    place = f": {fault.filename}" if fault.filename else ""
    console.print(f"[bold red]error:[/] {escape(what)}{escape(place)}")
    console.print(f"  [cyan]hint:[/] {escape(hint)}")


def exit_code_for(exc: BaseException) -> int:
    for cls, code, _ in _table():
        if isinstance(exc, cls):
            return code
    if disk_fault(exc) is not None:
        return EXIT_USER
    return EXIT_INTERNAL


def report(exc: BaseException, *, console: Console, verbose: bool) -> int:
    """Print ``exc`` for a human and return the exit code it maps to."""
    code = exit_code_for(exc)
    if verbose:
        console.print(escape("".join(traceback.format_exception(exc))), style="dim")
    if code == EXIT_INTERRUPTED:
        console.print("[yellow]interrupted[/]")
        return code
    if code == EXIT_INTERNAL:
        console.print(
            f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}"
        )
        console.print(
            f"  hint: this is a bug in mlrecipes; please report it at {ISSUES_URL} with the "
            "message above and the mlrecipes version (-v adds a traceback: URL credentials "
            "are removed from it, but read it for other private values before sharing)"
        )
        return code
    label = next((lbl for cls, _, lbl in _table() if isinstance(exc, cls)), None)
    fault = disk_fault(exc)
    if label is None and fault is not None:
        _report_disk_fault(fault, console)
        return code
    label = label or "error"
    if isinstance(exc, ManifestError):
        _report_manifest(exc, console)
        return code
    console.print(f"[bold red]{label}:[/] {escape(str(exc))}")
    hint = getattr(exc, "hint", None)
    if hint:
        console.print(f"  [cyan]hint:[/] {escape(cli_words(hint))}")
    return code
