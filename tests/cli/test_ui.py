"""`mlrecipes ui`: a lean MLflow UI on loopback, or the tracking server's page."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.mlflow_server import MlflowServer, free_port, mlflow_server_fixture
from tests.helpers.workspaces import CLI, cli, write_manifest

pytestmark = pytest.mark.slow
mlflow_server = mlflow_server_fixture()
READY = 180.0  # seconds: generous for a loaded 2-core machine; speed is in benchmarks/


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
            body: bytes = answer.read()
            return body
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _wait_answering(ui: subprocess.Popen[Any], base: str) -> None:
    """Until the UI at ``base`` answers its health check; fails if ``ui`` exits first."""
    deadline = time.monotonic() + READY
    while _get(f"{base}/health") is None:
        assert ui.poll() is None, "mlrecipes ui exited"
        assert time.monotonic() < deadline, "the UI did not answer"
        time.sleep(0.5)


def test_ui_serves_the_workspace_store_on_loopback(tmp_path: Path, blank_mlflow_db: Path) -> None:
    ws = tmp_path / "ws"
    manifest = write_manifest(ws, "version: 1\nname: churn\n")
    seed_mlflow_db(blank_mlflow_db, ws)
    from mlflow import MlflowClient

    exp_id = MlflowClient(f"sqlite:///{ws / '.mlrecipes' / 'mlflow.db'}").create_experiment("churn")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    base = f"http://127.0.0.1:{port}"
    command = [*CLI, "ui", "-f", str(manifest), "-p", str(port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True) as ui:
        try:
            _wait_answering(ui, base)
            assert b"<html" in (_get(f"{base}/") or b"").lower()
            api = _get(f"{base}/ajax-api/2.0/mlflow/experiments/get?experiment_id={exp_id}")
            assert json.loads(api or b"{}")["experiment"]["name"] == "churn"
            assert ui.stdout is not None
            line = ui.stdout.readline()
            runs = f"{base}/#/experiments/{exp_id}/runs"
            view = "?workflowType=machine_learning&viewStateShareKey=mlrecipes"
            assert line.split()[:3] == ["MLflow", "UI:", runs + view]
        finally:
            ui.send_signal(signal.SIGTERM)  # `kill`: the server it started must stop with it
            code = ui.wait(30)
    assert code == 0
    assert _get(f"{base}/health") is None


def test_ui_with_a_server_store_prints_its_page_and_starts_nothing(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url)
    name = f"ui-{time.monotonic_ns()}"
    exp_id = client.create_experiment(name)
    uri = mlflow_server.url.replace("http://", "http://alice:s3cret@")
    manifest = write_manifest(
        tmp_path / "ws", f"version: 1\nname: {name}\nmlflow: {{tracking_uri: '{uri}'}}\n"
    )
    done = cli("ui", "-f", str(manifest), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    view = "?workflowType=machine_learning&viewStateShareKey=mlrecipes"
    assert done.stdout.split()[-1] == f"{mlflow_server.url}/#/experiments/{exp_id}/runs{view}"
    assert "s3cret" not in done.stdout + done.stderr and "alice" not in done.stdout
    assert not (tmp_path / "ws" / ".mlrecipes" / "ui.log").exists()


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_kill_9_of_ui_takes_the_server_down(tmp_path: Path, blank_mlflow_db: Path) -> None:
    """Issue 25 item 21: after kill -9 of `mlrecipes ui` MLflow kept listening."""
    ws = tmp_path / "ws"
    manifest = write_manifest(ws, "version: 1\nname: k9\n")
    seed_mlflow_db(blank_mlflow_db, ws)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    command = [*CLI, "ui", "-f", str(manifest), "-p", str(port)]
    ui = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # not our group
    )
    try:
        _wait_answering(ui, f"http://127.0.0.1:{port}")
        taken = cli("ui", "-f", str(manifest), "-p", str(port), cwd=ws)
        assert taken.returncode == 1, taken.stdout + taken.stderr
        assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in taken.stderr
        os.kill(ui.pid, signal.SIGKILL)
        ui.wait(30)
        deadline = time.monotonic() + 30
        while _listening(port):
            assert time.monotonic() < deadline, "MLflow still listens after kill -9 of ui"
            time.sleep(0.2)
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait(30)
