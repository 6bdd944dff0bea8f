"""Ray's ``store`` mode on a cluster whose worker node cannot see the driver's disk.

The worker's raylet starts in a private mount namespace with a tmpfs over the
driver's workspaces and mirror cache (``unshare``, as root): whatever a step
needs must come to the node by key (repo URL and commit, environment spec,
inputs from the team store, a real ``mlflow server --serve-artifacts``). The
steps ask for a custom resource only the worker has (``resources: {custom:
...}``). The cluster was started while ``~/.ray/auth_token`` existed (token
authentication on), and the driver (the real CLI, in a subprocess) connects to
it without any extra setting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.helpers.mlflow_server import MlflowServer, start_mlflow_server, stop_mlflow_server
from tests.helpers.workspaces import make_repo, write_files, write_manifest

from mlrecipes.core.store.local import Store

from ._cluster import Cluster, start_cluster

pytest.importorskip("ray", reason="Ray is not installed (the mlrecipes-core[ray] extra)")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

STEPS = """
import os
from pathlib import Path

import six


def _probe(name: str, probe: str, seen: str) -> None:
    node = os.environ.get("MLRECIPES_RAY_NODE_ID") or "local"
    with open(probe, "a") as fh:
        fh.write(f"{name} {os.path.exists(seen)} {node}\\n")


def prep(raw: Path, table: Path, probe: str, seen: str, scale: int = 2) -> dict:
    _probe("prep", probe, seen)
    numbers = [int(x) for x in raw.read_text().split()]
    table.write_text(" ".join(str(n * scale) for n in numbers))
    return {"total": float(sum(numbers) * scale), "six": float(six.__version__[:4])}


def train(table: Path, model: Path, probe: str, seen: str, lr: float = 0.5) -> dict:
    _probe("train", probe, seen)
    score = sum(int(x) for x in table.read_text().split()) * lr
    model.write_text(str(score))
    return {"score": score, "six": float(six.__version__[:4])}


def hidden(out: Path) -> dict:
    out.write_text("never")
    return {"never": 1.0}
"""

MANIFEST = """
    version: 1
    name: {name}
    mlflow: {{tracking_uri: "{uri}"}}
    paths: {{raw: data, out: outputs}}
    params: {{probe: "{probe}", seen: "{seen}"}}
    repos:
      feat: {{url: ../../upstream/feat, rev: main}}
      model: {{url: ../../upstream/model, rev: main}}
    executor: {{kind: ray, address: "{address}", storage: store}}
    steps:
      prep:
        fn: feat:feat_steps.prep
        params: {{probe: !param probe, seen: !param seen}}
        resources: {{custom: {{sandbox: 1}}}}
        deps: {{raw: !path raw/numbers.txt}}
        outs: {{table: table.txt}}
      train:
        fn: model:model_steps.train
        params: {{probe: !param probe, seen: !param seen}}
        resources: {{custom: {{sandbox: 1}}}}
        deps: {{table: !out prep.table}}
        outs: {{model: !path out/model.txt}}
"""


@dataclass
class Setup:
    base: Path
    cluster: Cluster
    server: MlflowServer
    env: dict[str, str]  # the driver's: HOME holds the token, its own mirror cache

    @property
    def probe(self) -> Path:
        return self.base / "probe.log"

    def probes(self) -> list[str]:
        return self.probe.read_text().splitlines() if self.probe.exists() else []


def _repo(root: Path, name: str, six: str) -> None:
    make_repo(root, {"requirements.txt": f"six=={six}\n", f"{name}_steps.py": STEPS})


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding folders from the worker node needs root and unshare")
    base = tmp_path_factory.mktemp("store-mode")
    for folder in ("drivers", "cache", "node", "home/.ray"):
        (base / folder).mkdir(parents=True)
    (base / "home" / ".ray" / "auth_token").write_text(uuid.uuid4().hex)
    gitconfig = base / "home" / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
        _repo(base / "upstream" / "feat", "feat", "1.16.0")  # clashing pins: one env each
        _repo(base / "upstream" / "model", "model", "1.17.0")
        make_repo(base / "drivers" / "private" / "secret", {"secret_steps.py": STEPS})
    uv = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    py = subprocess.run(["uv", "python", "dir"], capture_output=True, text=True, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLRECIPES_"))}
    env.update(
        HOME=str(base / "home"),  # ~/.ray/auth_token: token authentication, for all
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        UV_CACHE_DIR=uv.stdout.strip(),  # the download cache only: not the driver's state
        UV_PYTHON_INSTALL_DIR=py.stdout.strip(),
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
    )
    server = start_mlflow_server(base / "server")
    cluster = None
    try:
        cluster = start_cluster(
            env=env,
            worker_resources={"sandbox": 1},  # what every step asks for
            # `ray start --address` (unlike --head) turns token mode on only when told.
            worker_env={"MLRECIPES_CACHE_DIR": str(base / "node"), "RAY_AUTH_MODE": "token"},
            client_env={"RAY_AUTH_MODE": "token"},
            hidden=[base / "drivers", base / "cache"],
            wait_for_worker=True,
        )
        driver = {**env, "MLRECIPES_CACHE_DIR": str(base / "cache")}
        yield Setup(base, cluster, server, driver)
    finally:
        if cluster is not None:
            cluster.stop()
        stop_mlflow_server(server)


def _workspace(setup: Setup, folder: str, name: str) -> Path:
    ws = setup.base / folder
    write_files(ws, {"data/numbers.txt": "1 2 3 4\n"})
    text = textwrap.dedent(MANIFEST).format(
        name=name,
        uri=setup.server.url,
        probe=setup.probe,
        seen=setup.base / "drivers" / "ray" / "workspace.yaml",
        address=setup.cluster.address,
    )
    return write_manifest(ws, text)


def _cli(setup: Setup, ws: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mlrecipes.cli", *args],
        cwd=ws.parent,
        env={**setup.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return f"{done.returncode}\n{done.stdout}\n{done.stderr}"


def _entries(manifest: Path) -> dict[tuple[str, str], Mapping[str, float]]:
    store = Store(manifest.parent / ".mlrecipes" / "store")
    found: dict[tuple[str, str], Mapping[str, float]] = {}
    for step_dir in store.root.iterdir():
        for entry in step_dir.iterdir():
            if entry.name.startswith("."):  # logs, temp entries
                continue
            record = store.read_record(step_dir.name, entry.name)
            if record is not None:
                found[(step_dir.name, entry.name)] = dict(record.metrics)
    return found


def test_pipeline_runs_on_a_node_without_the_workspace_and_matches_a_local_run(
    setup: Setup,
) -> None:
    local = _workspace(setup, "drivers/local", "store-mode")
    ray = _workspace(setup, "drivers/ray", "store-mode")
    out = _cli(setup, local, "run", "--executor", "local", "--no-share")
    assert out.startswith("0\n"), out
    assert [line.split()[:2] for line in setup.probes()] == [["prep", "True"], ["train", "True"]]

    out = _cli(setup, ray, "run")  # token auth: the driver finds ~/.ray/auth_token itself
    assert out.startswith("0\n"), out
    assert "InvalidAuthToken" not in out
    on_node = setup.probes()[2:]
    assert [line.split()[:2] for line in on_node] == [["prep", "False"], ["train", "False"]]
    assert all(line.split()[2] != "local" for line in on_node)  # ran in a Ray task
    # Same fingerprints and metrics; the clashing pins each got their own environment.
    assert _entries(ray) == _entries(local)
    assert {m["six"] for m in _entries(ray).values()} == {1.16, 1.17}
    assert (ray.parent / "outputs" / "model.txt").read_text() == "10.0"

    out = _cli(setup, ray, "run")  # a rerun is all hits: nothing reaches the node
    assert out.startswith("0\n"), out
    assert len(setup.probes()) == 4


def test_a_repo_the_node_cannot_fetch_fails_the_step_and_publishes_nothing(
    setup: Setup,
) -> None:
    ws = _workspace(setup, "drivers/bad", "store-unreachable")
    text = ws.read_text().replace(  # a repo only the driver sees
        "  model: {url: ../../upstream/model, rev: main}\n",
        "  model: {url: ../../upstream/model, rev: main}\n"
        "  secret: {url: ../private/secret, rev: main}\n",
    )
    text += (
        "  never:\n    fn: secret:secret_steps.hidden\n    outs: {out: never.txt}\n"
        "    resources: {custom: {sandbox: 1}}\n"
    )
    ws.write_text(text)
    out = _cli(setup, ws, "run", "never")
    assert out.startswith("4\n"), out
    assert "cannot check out or build repo 'secret'" in out
    assert str(setup.base / "drivers" / "private" / "secret") in out
    assert "Ray node" in out
    assert not _entries(ws)
    from mlflow import MlflowClient

    client = MlflowClient(setup.server.url)
    experiment = client.get_experiment_by_name("store-unreachable")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`mlrecipes.step` = 'never'")
    assert runs and all("mlrecipes.outputs.sha256" not in r.data.tags for r in runs)


def test_a_wrong_token_gives_one_clear_line(setup: Setup) -> None:
    ws = _workspace(setup, "drivers/token", "store-token")
    out = _cli(setup, ws, "run", env={"RAY_AUTH_TOKEN": uuid.uuid4().hex})
    assert out.startswith("1\n"), out
    assert "InvalidAuthToken" not in out and "gcs_client" not in out
    assert "ray start --head" not in out
    assert out.count("refused the connection") == 1, out
    assert "token authentication" in out and "RAY_AUTH_TOKEN" in out
