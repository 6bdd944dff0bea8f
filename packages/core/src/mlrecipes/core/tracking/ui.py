"""``mlrecipes ui``: the MLflow UI on the workspace's tracking store, started lean.

Plain ``mlflow ui`` starts four uvicorn workers and a huey consumer for
background jobs; on a 2-core machine that took minutes before its first page
(issue 11). Here the server gets one worker and no job execution
(``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``: the jobs are GenAI evaluation
and trace archival, which a run-tracking UI never uses), binds 127.0.0.1
unless told otherwise, and the URL printed is the experiment's page.

A tracking server (``http(s)://``) already serves a UI: the URL of the
experiment there is given (without credentials) and nothing is started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking.sqlite_listing import experiment_id as sqlite_experiment_id
from mlrecipes.core.tracking.ui_view import save_runs_view, view_query
from mlrecipes.core.tracking.uri import tracking_uri
from mlrecipes.git_sources.urls import redact_url

DEFAULT_PORT = 5000
READY_TIMEOUT = 180.0  # seconds; ~5 s is usual, minutes only without compiled bytecode
LEAN_ENV = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS": "false",
}


# Runs the server as its child and ends the whole group (the server and the
# uvicorn worker it spawns) when mlrecipes dies, even by kill -9: the kernel
# sends this wrapper SIGTERM then (Linux PR_SET_PDEATHSIG), and its handler
# passes it to the group it leads (SIGKILL after 10 s).
WATCHDOG = """\
import os, signal, subprocess, sys, threading
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except Exception:
    pass
def end(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    timer = threading.Timer(10, os.killpg, (0, signal.SIGKILL))
    timer.daemon = True
    timer.start()
signal.signal(signal.SIGTERM, end)
signal.signal(signal.SIGINT, end)
server = subprocess.Popen(sys.argv[2:])
if os.getppid() != int(sys.argv[1]):  # mlrecipes died before the signal was armed
    end(signal.SIGTERM, None)
code = server.wait()
if code < 0:  # end as the server ended, so mlrecipes reads the same status
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


@dataclass(frozen=True)
class UiPlan:
    """What ``ui`` does: open ``url``; start ``command`` first unless it is empty."""

    url: str
    command: list[str] = field(default_factory=list)
    base: str = ""  # where the started server answers
    log: Path | None = None


def plan_ui(manifest: Manifest, *, host: str = "127.0.0.1", port: int | None = None) -> UiPlan:
    """The server to start (or the one already serving) and the experiment's URL."""
    uri = tracking_uri(manifest)
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        return UiPlan(_server_url(uri, manifest))
    if scheme not in ("", "file", "sqlite"):
        raise UserError(
            f"mlrecipes ui cannot serve a {scheme!r} tracking store",
            hint="open the experiment in that service's own UI",
        )
    port = port if port is not None else _default_port(host)
    _check_free(host, port)
    base = f"http://{_url_host(host)}:{port}"
    found = sqlite_experiment_id(uri, manifest.experiment)
    saved = found is not None and save_runs_view(uri, manifest)
    paths = WorkspacePaths.for_manifest(manifest)
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", uri),
        *("--default-artifact-root", paths.mlflow_artifacts.as_uri(), "--no-serve-artifacts"),
        *("--host", host, "--port", str(port), "--workers", "1"),
    ]
    return UiPlan(_experiment_url(base, found, saved), command, base, paths.ui_log)


def serve(plan: UiPlan, on_ready: Callable[[str], None], timeout: float = READY_TIMEOUT) -> None:
    """Start the server, call ``on_ready(url)`` once it answers, and keep it until it exits
    or the user interrupts (Ctrl-C stops it and returns normally)."""
    assert plan.log is not None  # noqa: S101 - plan_ui gives a log with every command
    plan.log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **LEAN_ENV}
    with plan.log.open("wb") as log:
        # Its own session: stopping it stops the uvicorn worker it spawns too.
        watched = [sys.executable, "-c", WATCHDOG, str(os.getpid()), *plan.command]
        process = subprocess.Popen(
            watched, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    # `kill` or a closed terminal must stop the server too, not orphan it.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        _wait_ready(process, plan, timeout)
        on_ready(plan.url)
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if process.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise UserError(f"the MLflow UI stopped: {_tail(plan.log)}", hint=f"full log: {plan.log}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(process: subprocess.Popen[bytes], plan: UiPlan, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(
                f"the MLflow UI did not start: {_tail(plan.log)}",
                hint=f"full log: {plan.log}; another port: `port`",
            )
        try:
            with urllib.request.urlopen(f"{plan.base}/health", timeout=2) as answer:  # noqa: S310 - our own http URL
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise UserError(f"the MLflow UI did not answer within {timeout:.0f} s", hint=f"log: {plan.log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(log: Path | None) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log else []
    return lines[-1] if lines else "no output"


def _server_url(uri: str, manifest: Manifest) -> str:
    from mlrecipes.core.tracking.queries import find_experiment_id

    found = find_experiment_id(uri, manifest.experiment)
    saved = found is not None and save_runs_view(uri, manifest)
    return _experiment_url(redact_url(uri).rstrip("/"), found, saved)


def _experiment_url(base: str, experiment_id: str | None, saved: bool) -> str:
    # The runs table itself, on the model-training side, with mlrecipes' columns
    # (see tracking/ui_view.py): MLflow 3.x's UI otherwise opens on its GenAI
    # side, which shows nothing of a pipeline run.
    if not experiment_id:
        return f"{base}/"
    return f"{base}/#/experiments/{experiment_id}/runs?{view_query(saved)}"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a bind-all address is reached through loopback
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _check_free(host: str, port: int) -> None:
    """Say that the port is taken (MLflow's own words were "Application shutdown complete.")."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}",
                hint="another program holds that port: give another `port`, or leave "
                "`port` out to take a free one",
            ) from None


def _default_port(host: str) -> int:
    """MLflow's usual 5000, or any free port when something else holds it."""
    for port in (DEFAULT_PORT, 0):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            found: int = sock.getsockname()[1]
            return found
    raise UserError(f"cannot bind {host}", hint="give another `host`")
