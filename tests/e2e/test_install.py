"""mlrecipes outside its own checkout: installed as a tool, and a team's CI reproducing a run.

Both tests install the real tool into fresh tool folders and a fresh ``HOME``:
third-party packages come from the index through the shared uv cache, nothing
from this checkout's ``.venv`` (only the ``uv`` binary and the base Python).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml
from tests.helpers.mlflow_server import MlflowServer, mlflow_server_fixture
from tests.helpers.workspaces import commit, git, make_repo, pyproject_toml, write_files

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "ci" / "reproduce.yml"
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
UV = str(Path(sys.executable).parent / "uv")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
INSTALL_TIMEOUT = 1800  # ray + mlflow, bytecode compiled, on a busy 2-core machine

mlflow_server = mlflow_server_fixture()


def _shared_uv_cache() -> str:
    out = subprocess.run([UV, "cache", "dir"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _fresh_machine(root: Path) -> dict[str, str]:
    """The environment of a machine that never saw this checkout (but shares uv's cache)."""
    (root / "home").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin" / "uv").symlink_to(UV)  # as astral-sh/setup-uv puts it on PATH
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "VIRTUAL_ENV", "MLFLOW_", "MLRECIPES_", "PYTHON"))
        and k not in ("PATH", "HOME")
    }
    gitconfig = os.environ.get("GIT_CONFIG_GLOBAL")
    return {
        **env,
        "HOME": str(root / "home"),
        "PATH": f"{root / 'tool-bin'}:{root / 'bin'}:{SYSTEM_PATH}",
        "UV_TOOL_DIR": str(root / "tools"),
        "UV_TOOL_BIN_DIR": str(root / "tool-bin"),
        "UV_CACHE_DIR": _shared_uv_cache(),
        "UV_PYTHON": BASE_PYTHON,  # what setup-uv's python-version sets
        "MLRECIPES_CACHE_DIR": str(root / "mlrecipes-cache"),
        "PYTHONDONTWRITEBYTECODE": "1",  # as the image sets it: bytecode must come from install
        **({"GIT_CONFIG_GLOBAL": gitconfig} if gitconfig else {}),
    }


def _sh(
    command: str, *, cwd: Path, env: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _ok(command: str, *, cwd: Path, env: Mapping[str, str], timeout: float = 600) -> str:
    done = _sh(command, cwd=cwd, env=env, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _pyc_count(tool_env: Path, package: str) -> int:
    site = next(tool_env.glob("lib/python3*/site-packages"))
    return sum(1 for _ in (site / package).rglob("*.pyc"))


def _head() -> str:
    return git(REPO, "rev-parse", "HEAD")


STEP_REPO = {
    "pyproject.toml": pyproject_toml("lab"),
    "lab/__init__.py": "",
    "lab/steps.py": """
        import os
        from pathlib import Path


        def make(out: Path, scale: float) -> dict:
            out.write_text(str(3 * scale))
            return {"size": 3 * scale}


        def fit(table: Path, bonus: float) -> dict:
            # LAB_NOISE plants drift without touching any commit (the test's lever)
            noise = float(os.environ.get("LAB_NOISE", "0"))
            return {"score": float(table.read_text()) + bonus + noise}
    """,
}


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + 600)
def test_wheels_install_as_a_tool_with_extras_and_bytecode(tmp_path: Path) -> None:
    env = _fresh_machine(tmp_path)
    dist = tmp_path / "dist"
    head = _head()  # the wheels are built from this commit (and the tree as it is)
    _ok(f"uv build --all-packages -o {dist} -q", cwd=REPO, env=env, timeout=600)
    _ok(
        f'uv tool install --compile-bytecode --find-links {dist} "mlrecipes[tune,ray]"',
        cwd=tmp_path, env=env, timeout=INSTALL_TIMEOUT,
    )  # fmt: skip
    tool_env = tmp_path / "tools" / "mlrecipes"
    assert _pyc_count(tool_env, "mlflow") > 500
    assert _pyc_count(tool_env, "mlrecipes") > 50
    assert (tmp_path / "tool-bin" / "mlrecipes").exists()
    # the extras are there: Optuna and Ray import in the tool's own environment
    _ok(f"{tool_env / 'bin' / 'python'} -c 'import optuna, ray'", cwd=tmp_path, env=env)
    version = _ok("mlrecipes --version", cwd=tmp_path, env=env)
    assert f"(commit {head[:7]}" in version and "checkout" not in version

    make_repo(tmp_path / "lab", STEP_REPO)
    write_files(
        tmp_path / "ws",
        {
            "workspace.yaml": """
                version: 1
                name: installed
                paths: {out: outputs}
                repos:
                  lab: {url: ../lab, rev: main}
                steps:
                  make:
                    fn: lab:lab.steps.make
                    params: {scale: 2.0}
                    outs: {out: !path out/table.txt}
            """
        },
    )
    out = _ok("mlrecipes run", cwd=tmp_path / "ws", env=env, timeout=600)
    assert "finished run" in out
    assert (tmp_path / "ws" / "outputs" / "table.txt").read_text() == "6.0"
    assert "--objective" in _ok("mlrecipes tune --help", cwd=tmp_path, env=env)
    assert "--ray-address" in _ok("mlrecipes run --executor ray --help", cwd=tmp_path, env=env)


# ---------------------------------------------------------------------------
# The team story: a git server, an MLflow server, a developer, a CI runner.

TEAM_MANIFEST = """
    version: 1
    name: team
    mlflow:
      tracking_uri: !env MLFLOW_TRACKING_URI
    repos:
      features: {url: ../features.git, rev: main}
      models: {url: ../models.git, rev: main}
    steps:
      make:
        fn: features:lab.steps.make
        params: {scale: 2.0}
        outs: {out: table.txt}
      fit:
        fn: models:lab.steps.fit
        params: {bonus: 0.5}
        deps: {table: !out make.out}
"""


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``git daemon`` on 127.0.0.1 serving a folder of bare repos: (base URL, folder)."""
    from tests.git_sources.conftest import free_port, git_program, wait_for_port

    base = tmp_path / "server"
    base.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [str(git_program("daemon")), "--reuseaddr", "--export-all", f"--base-path={base}",
         "--listen=127.0.0.1", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield f"git://127.0.0.1:{port}", base
    finally:
        proc.kill()
        proc.wait()


def _publish(source: Path, base: Path, name: str) -> None:
    git(base, "clone", "-q", "--bare", str(source), str(base / name))


def _workflow_steps() -> list[dict[str, object]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps: list[dict[str, object]] = workflow["jobs"]["reproduce"]["steps"]
    return steps


def _workflow_env_keys() -> set[str]:
    return set(yaml.safe_load(WORKFLOW.read_text())["env"])


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + 900)
def test_a_ci_runner_reproduces_a_teammates_run_from_the_workflow(
    tmp_path: Path, git_server: tuple[str, Path], mlflow_server: MlflowServer
) -> None:
    url, base = git_server
    for name in ("features", "models"):
        _publish(make_repo(tmp_path / "src" / name, STEP_REPO), base, f"{name}.git")
    _publish(
        make_repo(tmp_path / "src" / "exp", {"workspace.yaml": TEAM_MANIFEST}),
        base,
        "experiments.git",
    )

    # A developer clones the workspace repo (only it), locks, pushes the lock, runs.
    dev_env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url,
               "MLRECIPES_CACHE_DIR": str(tmp_path / "dev-cache")}  # fmt: skip
    dev = tmp_path / "dev"
    dev.mkdir()
    git(dev, "clone", "-q", f"{url}/experiments.git")
    ws = dev / "experiments"
    cli = f"{shlex.quote(sys.executable)} -m mlrecipes.cli"
    _ok(f"{cli} workspace sync", cwd=ws, env=dev_env)
    assert "url: ../features.git" in (ws / "workspace.lock").read_text()
    commit(ws, {".gitignore": ".mlrecipes/\noutputs/\n"}, "lock")
    git(ws, "push", "-q", str(base / "experiments.git"), "main")
    _ok(f"{cli} run", cwd=ws, env=dev_env)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    experiment = client.get_experiment_by_name("team")
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id], "tags.`mlrecipes.kind` = 'pipeline'", max_results=1
    )
    tags = run.data.tags
    assert tags["mlrecipes.repo.features.url"] == f"{url}/features.git"
    assert tags["mlrecipes.repo.models.url"] == f"{url}/models.git"
    assert tags["mlflow.source.git.repoURL"] == f"{url}/experiments.git"
    assert tags["mlflow.source.git.commit"] == git(ws, "rev-parse", "HEAD")
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlrecipes.workspace.dirty"] == "false"

    # A fresh runner executes the workflow's own commands, read from the file.
    runner = tmp_path / "runner"
    env = _fresh_machine(runner)
    clone = tmp_path / "mlrecipes-clone"  # the tool's source: this repository's HEAD
    git(tmp_path, "clone", "-q", "--no-hardlinks", str(REPO), str(clone))
    job = runner / "job"
    git(runner, "clone", "-q", f"{url}/experiments.git", str(job))  # actions/checkout
    assert _workflow_env_keys() >= {"MLFLOW_TRACKING_URI", "PINNED_RUN_ID", "MLRECIPES_GIT_URL"}
    env.update(
        MLFLOW_TRACKING_URI=mlflow_server.url,
        PINNED_RUN_ID=run.info.run_id,
        MLRECIPES_CACHE_DIR=str(job / ".cache" / "mlrecipes"),  # as the workflow says
        MLRECIPES_GIT_URL=clone.as_uri(),
        CI="true",
    )
    commands = [
        str(step["run"])
        for step in _workflow_steps()
        if "run" in step and not str(step["run"]).startswith("uv cache")  # the shared cache
    ]
    assert any("uv tool install --compile-bytecode" in c for c in commands)
    for command in commands:
        _ok(command, cwd=job, env=env, timeout=INSTALL_TIMEOUT)
    assert _pyc_count(runner / "tools" / "mlrecipes", "mlflow") > 500
    version = _ok("mlrecipes --version", cwd=job, env=env)
    assert f"(commit {git(clone, 'rev-parse', 'HEAD')[:7]}" in version

    # Drift, planted without editing any history: the step reads LAB_NOISE.
    reproduce = next(c for c in commands if "reproduce" in c)
    drift = _sh(reproduce, cwd=job, env={**env, "LAB_NOISE": "1"}, timeout=600)
    assert drift.returncode == 5, drift.stdout + drift.stderr
    assert "score" in drift.stdout
