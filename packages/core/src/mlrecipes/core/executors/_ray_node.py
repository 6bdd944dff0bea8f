"""The node side of the Ray executor: what one Ray task runs on a cluster node.

This module is shipped to the nodes by value (``cloudpickle``), so a node
needs Ray and the workspace folder but not mlrecipes: it imports only the
standard library (and Ray, which every Ray worker has). It gets the runner's
source in the payload, so the driver's install path never has to exist on a
node.

:func:`run_step` checks that the node sees the workspace, writes the spec,
runs ``python -c PRELUDE parent_pid step_runner.py spec.json`` in its own process
group with the log at ``log_path``, and returns a plain dict the driver turns
into an :class:`~mlrecipes.core.executors.base.Outcome`.

Cancellation: a graceful ``ray.cancel`` raises ``KeyboardInterrupt`` in the
task, which then stops the step's process group (SIGTERM, SIGKILL after the
grace period). A forced cancel kills the Ray worker outright; the prelude has
asked the kernel (Linux ``PR_SET_PDEATHSIG``) to SIGKILL the step when that
happens, so no step process outlives its task.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOG_TAIL_BYTES = 64 * 1024
SHARED_FS_HINT = (
    "the workspace folder (checkouts, environments, store) must be on a filesystem "
    "that every node of the Ray cluster mounts at the same path"
)
# Variables that would make the step's interpreter import from another environment.
_DROPPED = frozenset({"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__"})

# Runs first in the step's own interpreter (any Python 3): SIGKILL us when the
# Ray worker that started us dies (a forced cancel), then run the runner as
# ``__main__``. The parent check closes the race where the worker died before
# prctl took effect.
PRELUDE = """\
import os, sys
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    os._exit(137)
sys.argv = sys.argv[2:]
import runpy
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def node_name() -> str:
    """``host (ip, node abcd1234)`` of the node this runs on."""
    try:
        import ray

        ip = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        node = ray.get_runtime_context().get_node_id()[:8]
    except Exception:  # outside a Ray worker (unit use): the host is enough
        return socket.gethostname()
    return f"{socket.gethostname()} ({ip}, node {node})"


def node_id() -> str:
    """The Ray node id, or ``""`` outside a Ray worker."""
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:
        return ""


def run_step(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one step on this node; never raises for a step's own failure.

    Returns ``{"returncode", "result", "log_tail", "killed"}`` or, when the
    node cannot run the step at all, ``{"error": "..."}``.
    """
    missing = _invisible(payload)
    if missing is not None:
        return {
            "error": f"Ray node {node_name()} cannot see {missing}: {SHARED_FS_HINT}",
            "node": node_name(),
        }
    return launch(payload, Path(payload["spec_path"]), Path(payload["log_path"]))


def launch(payload: dict[str, Any], spec_path: Path, log_path: Path) -> dict[str, Any]:
    """Run the runner on ``payload["spec"]`` with ``payload["python"]`` in ``payload["cwd"]``.

    Returns ``{"returncode", "result", "log_tail", "killed"}``. Used by both storage
    modes: ``store`` mode calls it once the node has its checkout, environment and inputs.
    """
    # Owner-only: the spec holds params in clear, secrets included.
    spec_path.unlink(missing_ok=True)
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload["spec"], fh)
    runner = _runner_file(payload["runner_source"])
    python = payload["python"]
    argv = [python, "-c", PRELUDE, str(os.getpid()), str(runner), str(spec_path)]
    env = subprocess_env(Path(python), {**payload["env"], "MLRECIPES_RAY_NODE_ID": node_id()})
    # The runner removes the spec once read; this, whatever happened before it read it.
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                cwd=payload["cwd"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
            returncode, killed = _wait(proc, float(payload["grace"]))
    finally:
        spec_path.unlink(missing_ok=True)
    result_path = Path(payload["spec"]["result"])
    try:
        result = result_path.read_text(encoding="utf-8")
    except OSError:
        result = None
    result_path.unlink(missing_ok=True)
    return {
        "returncode": returncode,
        "result": result,
        "log_tail": _tail(log_path),
        "killed": killed,
    }


def _invisible(payload: dict[str, Any]) -> str | None:
    """The first workspace path this node does not see, or None."""
    for key in ("python", "cwd", "tmp_entry"):
        if not Path(payload[key]).exists():
            return str(payload[key])
    return None


def _wait(proc: subprocess.Popen[bytes], grace: float) -> tuple[int, bool]:
    """Wait for the step; on cancel (KeyboardInterrupt) stop its group first."""
    try:
        # A timed wait returns to Python often, so Ray's cancel (an exception
        # raised in this thread) is delivered promptly.
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return proc.wait(timeout=0.5), False
    except BaseException:
        _killpg(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        _killpg(proc, signal.SIGKILL)
        return proc.wait(), True


def _killpg(proc: subprocess.Popen[bytes], signum: int) -> None:
    # The group id is the child's pid (process_group=0); it is not reaped yet
    # while we hold it, so the id cannot have been reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def subprocess_env(python: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a step process: ours, cleaned, plus ``extra``.

    ``VIRTUAL_ENV``, ``PYTHONPATH``, ``PYTHONHOME`` and ``UV_*`` are removed;
    the interpreter's folder goes first on ``PATH`` (as ``uv run`` does), so a
    step that calls ``python`` or a console script gets its own environment's.
    Both executors build a step's environment here.
    """
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith("UV_")}
    env.update(extra)
    env["PATH"] = os.pathsep.join(filter(None, [str(python.parent), env.get("PATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _runner_file(source: str) -> Path:
    """The runner's source as a file on this node, written once per version."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"mlrecipes-runner-{os.getuid()}"
    target = folder / f"runner-{digest}.py"
    if not target.is_file():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(target)
    return target


def _tail(log_path: Path) -> str:
    """The last :data:`LOG_TAIL_BYTES` of the log (all of it when shorter)."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - LOG_TAIL_BYTES))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
