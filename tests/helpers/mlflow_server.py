"""A real ``mlflow server`` for tests: start it on a free loopback port, stop it after.

Import the fixture factory and bind it to a name in a test module (or in
``tests/conftest.py`` to share it)::

    from tests.helpers.mlflow_server import MlflowServer, mlflow_server_fixture

    mlflow_server = mlflow_server_fixture()

    @pytest.mark.slow
    def test_x(mlflow_server: MlflowServer) -> None: ...

The server is started once per test session, however many modules bind the
fixture, and stopped when the session ends.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 180.0  # ~6 s with compiled bytecode, ~30 s without (PYTHONDONTWRITEBYTECODE)
_SHARED: dict[str, MlflowServer] = {}


@dataclass(frozen=True)
class MlflowServer:
    """A running server: ``url`` is its tracking URI; its files live under ``root``."""

    url: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    """A loopback port that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_mlflow_server(
    root: Path,
    *,
    timeout: float = START_TIMEOUT,
    serve_artifacts: bool = True,
    artifact_root: str | None = None,
    port: int | None = None,
) -> MlflowServer:
    """Start ``mlflow server`` (sqlite store, served artifacts) and wait for ``/health``.

    With ``serve_artifacts=False`` the server hands out artifact locations that
    clients write themselves: ``artifact_root`` (e.g. ``s3://bucket/x``; the
    server's environment is passed on), else a folder on its own disk
    (``--no-serve-artifacts --default-artifact-root <root>/artifacts``). ``port``:
    a given one (a server brought back up where clients expect it), else a free one.
    """
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
        *(
            ("--artifacts-destination", str(root / "artifacts"), "--serve-artifacts")
            if serve_artifacts
            else (
                "--default-artifact-root",
                artifact_root or str(root / "artifacts"),
                "--no-serve-artifacts",
            )
        ),
    ]
    log = root / "server.log"
    with log.open("wb") as out:
        # Its own session, so that stopping it also stops the uvicorn worker it spawns.
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = MlflowServer(f"http://127.0.0.1:{port}", root, log, process)
    try:
        _wait_healthy(server, timeout)
    except BaseException:
        stop_mlflow_server(server)
        raise
    return server


def stop_mlflow_server(server: MlflowServer) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after 10 s."""
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(10)


def mlflow_server_fixture() -> Any:
    """A session-scoped fixture giving a running :class:`MlflowServer`."""

    @pytest.fixture(scope="session")
    def mlflow_server(
        tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
    ) -> MlflowServer:
        server = _SHARED.get("server")
        if server is None or server.process.poll() is not None:
            server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
            _SHARED["server"] = server
            request.config.add_cleanup(lambda: stop_mlflow_server(server))
        return server

    return mlflow_server


def _wait_healthy(server: MlflowServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server exited with {server.process.returncode}:\n{tail}")
        try:
            health = f"{server.url}/health"  # always http://127.0.0.1, built above
            with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"mlflow server not healthy after {timeout} s; log: {server.log}")
