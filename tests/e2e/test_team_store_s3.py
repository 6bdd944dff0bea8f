"""The two-machine team store test against an S3-compatible store on loopback.

A team's usual setup: the MLflow server hands out ``s3://`` artifact locations
(``--no-serve-artifacts --default-artifact-root s3://...``) and every machine
writes and reads the bucket itself. The bucket is ``moto_server`` (``pip install
'moto[server]'``) on 127.0.0.1; the test is skipped when it or boto3 (which
MLflow's S3 client needs) is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.mlflow_server import (
    MlflowServer,
    free_port,
    start_mlflow_server,
    stop_mlflow_server,
)
from tests.helpers.team_store_repos import make_machines, on_machine, ran

from mlrecipes.core import Workspace

pytestmark = pytest.mark.slow
MOTO = shutil.which("moto_server")
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("boto3", reason="MLflow's S3 artifact client needs boto3")
    if MOTO is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [MOTO, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _create_bucket(endpoint, "team", process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def _create_bucket(endpoint: str, bucket: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        # Always http://127.0.0.1, built by the fixture.
        request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    raise RuntimeError(f"moto_server at {endpoint} did not start")


@pytest.fixture(scope="module")
def s3_server(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "MLFLOW_S3_ENDPOINT_URL"]}
    os.environ.update({**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint})
    server = start_mlflow_server(
        tmp_path_factory.mktemp("s3-mlflow"),
        serve_artifacts=False,
        artifact_root="s3://team/mlartifacts",
    )
    try:
        yield server
    finally:
        stop_mlflow_server(server)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_second_machine_runs_nothing_with_an_s3_artifact_store(
    tmp_path: Path, s3_server: MlflowServer, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)  # the autouse fixture dropped MLFLOW_*
    m1, m2 = make_machines(tmp_path, s3_server.url, "team-s3")
    with on_machine(m1):
        Workspace.load(m1).run()
    with on_machine(m2):
        result = Workspace.load(m2).run()
    assert ran(m1) == ["prep", "train", "report"]
    assert ran(m2) == []
    assert len(result.plan.remote) == 3
    out1, out2 = (m.parent / "outputs" for m in (m1, m2))
    assert (out2 / "model" / "weights.json").read_text() == (
        out1 / "model" / "weights.json"
    ).read_text()
    assert (out2 / "report.txt").read_text() == (out1 / "report.txt").read_text()
