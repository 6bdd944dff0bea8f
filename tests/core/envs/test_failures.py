"""Failures: impossible requirements, a Python this machine lacks, a killed build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlrecipes.core.envs import (
    Environment,
    EnvSpec,
    ensure_environment,
    ensure_environments,
    environment_status,
)
from mlrecipes.core.errors import EnvironmentBuildError, PythonNotAvailable

PythonIn = Callable[[Environment, str], str]


def test_impossible_requirement_fails_alone(
    make_project: Callable[..., Path], envs_dir: Path, python_in: PythonIn
) -> None:
    bad = EnvSpec("broken", make_project("broken", ["six==999"]))
    good = EnvSpec("fine", make_project("fine", ["six==1.17.0"]))
    results = ensure_environments([bad, good], envs_dir=envs_dir, jobs=2)
    error = results["broken"]
    assert isinstance(error, EnvironmentBuildError)
    assert error.repo == "broken"
    assert "'broken'" in error.message and "six==999" in error.message
    assert error.output.startswith("error: No solution found")
    assert error.hint is not None and ".failed-" in error.hint
    fine = results["fine"]
    assert isinstance(fine, Environment)
    assert python_in(fine, "import six; print(six.__version__)") == "1.17.0"
    assert environment_status(bad, envs_dir=envs_dir) == "failed"
    assert not list(envs_dir.glob(".tmp-*"))
    # Fixing the pin builds (a new key) and the failure no longer shows.
    text = (bad.project_dir / "pyproject.toml").read_text()
    (bad.project_dir / "pyproject.toml").write_text(text.replace("six==999", "six==1.17.0"))
    ensure_environment(bad, envs_dir=envs_dir)
    assert environment_status(bad, envs_dir=envs_dir) == "ready"


def test_package_that_does_not_import_fails_the_check(
    make_project: Callable[..., Path], envs_dir: Path
) -> None:
    folder = make_project("crashy")
    (folder / "src" / "crashy" / "__init__.py").write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(EnvironmentBuildError) as info:
        ensure_environment(EnvSpec("crashy", folder), envs_dir=envs_dir)
    assert "boom at import" in info.value.output
    assert environment_status(EnvSpec("crashy", folder), envs_dir=envs_dir) == "failed"
    assert not [p for p in envs_dir.iterdir() if not p.name.startswith(".")]


@pytest.mark.parametrize("where", ["manifest", ".python-version", "requires-python"])
def test_python_this_machine_lacks(
    make_project: Callable[..., Path],
    pyproject: Callable[..., None],
    envs_dir: Path,
    where: str,
) -> None:
    folder = make_project("future", mode="bare")
    spec = EnvSpec("future", folder, python=">=3.99" if where == "manifest" else None)
    if where == ".python-version":
        (folder / ".python-version").write_text("3.99\n")
    if where == "requires-python":
        pyproject(folder, "future", requires_python=">=3.99")
    with pytest.raises(PythonNotAvailable) as info:
        ensure_environment(spec, envs_dir=envs_dir)
    assert info.value.repo == "future"
    assert where.replace("manifest", "workspace.yaml") in info.value.message
    assert "3.99" in info.value.requested
    assert not envs_dir.exists()  # nothing was attempted


def test_manifest_python_wins_over_the_repo(
    make_project: Callable[..., Path], envs_dir: Path
) -> None:
    folder = make_project("pinned", mode="bare")
    (folder / ".python-version").write_text("3.99\n")
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = ensure_environment(EnvSpec("pinned", folder, python=mine), envs_dir=envs_dir)
    assert env.python.exists()


_BUILD_SCRIPT = """
import sys
from pathlib import Path
from mlrecipes.core.envs import EnvSpec, ensure_environment
ensure_environment(EnvSpec("victim", Path(sys.argv[1])), envs_dir=Path(sys.argv[2]))
"""


def test_killed_build_leaves_nothing_ready(
    make_project: Callable[..., Path], envs_dir: Path, python_in: PythonIn
) -> None:
    folder = make_project("victim", ["six==1.17.0"])
    spec = EnvSpec("victim", folder)
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUILD_SCRIPT, str(folder), str(envs_dir)],
        start_new_session=True,  # its own process group: kill the builder and its uv together
    )
    deadline = time.monotonic() + 60
    while not list(envs_dir.glob(".tmp-*/pyvenv.cfg")):
        assert proc.poll() is None, "the build finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(envs_dir.glob(".tmp-*")), "the kill should have left a partial build"
    assert environment_status(spec, envs_dir=envs_dir) == "missing"
    env = ensure_environment(spec, envs_dir=envs_dir)
    assert python_in(env, "import six, victim; print(six.__version__)") == "1.17.0"
    assert not list(envs_dir.glob(".tmp-*"))  # the leftover was cleaned
