"""Building environments of every install mode with the real uv and packages from PyPI."""

from __future__ import annotations

import json
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

SIX = "import six; print(six.__version__)"
PythonIn = Callable[[Environment, str], str]


def _ensured(result: object) -> Environment:
    assert isinstance(result, Environment), result
    return result


def test_conflicting_pins_get_their_own_environments(
    make_project: Callable[..., Path], envs_dir: Path, python_in: PythonIn
) -> None:
    old = make_project("old-six", ["six==1.16.0"])
    new = make_project("new-six", ["six==1.17.0"])
    specs = [EnvSpec("old", old), EnvSpec("new", new)]
    results = ensure_environments(specs, envs_dir=envs_dir, jobs=2)
    env_old, env_new = _ensured(results["old"]), _ensured(results["new"])
    assert env_old.key != env_new.key and env_old.deps_hash != env_new.deps_hash
    assert python_in(env_old, SIX) == "1.16.0"
    assert python_in(env_new, SIX) == "1.17.0"
    # Installed editable: imports resolve to the checkout.
    where = python_in(env_old, "import old_six; print(old_six.__file__)")
    assert where == str(old / "src" / "old_six" / "__init__.py")
    # Built in a temp folder, then renamed: the published folder is named by its key.
    assert env_old.path == envs_dir / env_old.key and env_old.mode == "pyproject"
    assert env_old.python.is_relative_to(env_old.path)
    assert not list(envs_dir.glob(".tmp-*"))
    marker = json.loads((env_old.path / ".mlrecipes-env.json").read_text())
    assert marker["key"] == env_old.key and marker["deps_hash"] == env_old.deps_hash
    assert environment_status(specs[0], envs_dir=envs_dir) == "ready"


def test_uv_lock_project_is_synced_frozen_without_dev(
    make_project: Callable[..., Path],
    lock: Callable[[Path], None],
    envs_dir: Path,
    python_in: PythonIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dev_group = '[dependency-groups]\ndev = ["iniconfig==2.0.0"]\n'
    folder = make_project("locked", ["six==1.16.0"], extra=dev_group)
    lock(folder)
    # Unpin in pyproject.toml without re-locking: --frozen installs the lock as it is.
    text = (folder / "pyproject.toml").read_text()
    (folder / "pyproject.toml").write_text(text.replace('"six==1.16.0"', '"six"'))
    # The caller's own environment must not leak into the build.
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "callers-venv"))
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", str(tmp_path / "callers-project-env"))
    lines: list[str] = []
    env = ensure_environment(EnvSpec("locked", folder), envs_dir=envs_dir, on_output=lines.append)
    assert env.mode == "uv-lock"
    assert python_in(env, SIX) == "1.16.0"
    assert python_in(env, "import locked; print(locked.WHO)") == "locked"
    assert python_in(env, "import importlib.util as u; print(u.find_spec('iniconfig'))") == "None"
    assert not (tmp_path / "callers-project-env").exists()
    assert any("six==1.16.0" in line for line in lines)  # uv's output was streamed


def test_requirements_project_gets_its_folder_on_sys_path(
    make_project: Callable[..., Path], envs_dir: Path, python_in: PythonIn
) -> None:
    folder = make_project("reqs", ["six==1.17.0"], mode="requirements")
    env = ensure_environment(EnvSpec("reqs", folder), envs_dir=envs_dir)
    assert env.mode == "requirements"
    assert python_in(env, SIX) == "1.17.0"
    assert python_in(env, "import reqs; print(reqs.__file__)") == str(folder / "reqs.py")


def test_bare_project_is_an_empty_environment_with_its_folder_importable(
    make_project: Callable[..., Path], envs_dir: Path, python_in: PythonIn
) -> None:
    folder = make_project("bare", mode="bare")
    env = ensure_environment(EnvSpec("bare", folder), envs_dir=envs_dir)
    assert env.mode == "bare"
    assert python_in(env, "import bare; print(bare.WHO)") == "bare"
    assert python_in(env, "import importlib.util as u; print(u.find_spec('six'))") == "None"


def test_same_project_twice_is_built_once(
    make_project: Callable[..., Path], envs_dir: Path
) -> None:
    folder = make_project("shared", ["six==1.17.0"])
    outputs: list[tuple[str, str]] = []
    specs = [EnvSpec("a", folder), EnvSpec("b", folder)]
    results = ensure_environments(
        specs, envs_dir=envs_dir, jobs=2, on_output=lambda repo, line: outputs.append((repo, line))
    )
    assert _ensured(results["a"]) == _ensured(results["b"])
    # The file lock serialises the two; the second finds the first's environment.
    created = [repo for repo, line in outputs if "Creating virtual environment" in line]
    assert len(created) == 1


def test_installed_packages_come_with_bytecode(
    make_project: Callable[..., Path], envs_dir: Path
) -> None:
    """Compiled by uv at install time: a step pays nothing under PYTHONDONTWRITEBYTECODE."""
    folder = make_project("compiled", ["six==1.17.0"], mode="requirements")
    env = ensure_environment(EnvSpec("compiled", folder), envs_dir=envs_dir)
    # Looked for before anything imports six, so no interpreter can have written it since.
    assert list(env.path.glob("lib/python3.*/site-packages/__pycache__/six.cpython-3*.pyc"))
