"""Running uv as a subprocess, with an environment the caller cannot leak into."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

# Variables of the caller that would redirect uv to another environment,
# interpreter or project, or change how it treats the lock.
_SCRUBBED = (
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PROJECT",
    "UV_PYTHON",
    "UV_SYSTEM_PYTHON",
    "UV_LOCKED",
    "UV_FROZEN",
    "UV_NO_SYNC",
    "UV_NO_EDITABLE",
    "PYTHONPATH",
    "PYTHONHOME",
)
TAIL_LINES = 30


class UvNotFound(FileNotFoundError):
    """Neither the ``uv`` Python package nor PATH provides a uv binary."""


class UvFailed(Exception):
    """uv exited non-zero; ``output`` is everything it printed."""

    def __init__(self, args: Sequence[str], returncode: int, output: str) -> None:
        # The short form for messages (`uv pip install`); the full command for logs.
        verb = [a for a in args[:3] if not a.startswith("-")][:2]
        super().__init__(f"`uv {' '.join(verb)}` exited with {returncode}")
        self.command = " ".join(["uv", *args])
        self.returncode = returncode
        self.output = output


def find_uv() -> str:
    """The uv executable: the one the ``uv`` PyPI package ships, else ``uv`` on PATH."""
    # Serialised: find_uv_bin() reads sysconfig, whose first use is not thread-safe
    # on Python 3.11 (a racing thread sees a half-filled config: EXE is None).
    with _FIND_LOCK:
        return _locate_uv()


_FIND_LOCK = threading.Lock()


@functools.cache
def _locate_uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise UvNotFound("uv not found: install it (`pip install uv`) or put it on PATH")
    return found


def uv_environ(
    uv_cache_dir: Path | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment uv runs with: quiet, no interpreter downloads, nothing inherited
    that points at another virtualenv or project."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["UV_NO_PROGRESS"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_COMPILE_BYTECODE"] = "1"  # steps start fast even with PYTHONDONTWRITEBYTECODE set
    if uv_cache_dir is not None:
        env["UV_CACHE_DIR"] = str(uv_cache_dir)
    env.update(extra or {})
    return env


def run_uv(
    args: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    on_output: Callable[[str], None] | None = None,
) -> str:
    """Run ``uv ARGS``, streaming each line of its output to ``on_output``.

    Returns the output (stdout and stderr merged, in order); raises
    :class:`UvFailed` with that output when uv fails.
    """
    command = [find_uv(), *args]
    lines: list[str] = []
    with subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        for line in proc.stdout or ():
            lines.append(line.rstrip("\n"))
            if on_output is not None:
                on_output(lines[-1])
    output = "\n".join(lines)
    if proc.returncode != 0:
        raise UvFailed(args, proc.returncode, output)
    return output


def uv_stdout(args: Sequence[str], *, env: dict[str, str]) -> str:
    """Run ``uv ARGS`` and return its stdout alone (for machine-readable output)."""
    command = [find_uv(), *args]
    proc = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise UvFailed(args, proc.returncode, proc.stderr)
    return proc.stdout


def relevant_output(output: str) -> str:
    """The part of uv's output that explains a failure: from the first ``error:`` line
    on, else the last ``TAIL_LINES`` lines."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().lower().startswith("error:"):
            return "\n".join(lines[i:])
    return "\n".join(lines[-TAIL_LINES:])
