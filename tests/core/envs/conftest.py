"""Project folders of every install mode, and helpers to look inside environments."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mlrecipes.core.envs import Environment, find_uv

# uv's own build backend: builds editable wheels in milliseconds, no download.
BUILD_SYSTEM = '[build-system]\nrequires = ["uv_build>=0.8,<1"]\nbuild-backend = "uv_build"\n'


def write_pyproject(
    folder: Path,
    name: str,
    deps: Sequence[str] = (),
    *,
    extra: str = "",
    requires_python: str = ">=3.11",
) -> None:
    """A pyproject.toml and a ``src/<module>`` package whose module records its name."""
    module = name.replace("-", "_")
    package = folder / "src" / module
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f"WHO = {name!r}\n")
    deps_toml = ", ".join(f'"{d}"' for d in deps)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n'
        f'requires-python = "{requires_python}"\ndependencies = [{deps_toml}]\n'
        f"{extra}\n{BUILD_SYSTEM}"
    )


@pytest.fixture
def envs_dir(tmp_path: Path) -> Path:
    return tmp_path / "envs"


@pytest.fixture
def pyproject() -> Callable[..., None]:
    """``pyproject(folder, name, deps, extra=..., requires_python=...)``: see write_pyproject."""
    return write_pyproject


@pytest.fixture
def lock() -> Callable[[Path], None]:
    """``lock(folder)``: run ``uv lock`` there."""
    return uv_lock


@pytest.fixture
def python_in() -> Callable[[Environment, str], str]:
    """``python_in(env, code)``: run code in the environment, return its stdout."""
    return run_python


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project(name, deps, mode=...)``: a checkout folder (with ``.git``) of that mode."""

    def make(
        name: str, deps: Sequence[str] = (), *, mode: str = "pyproject", extra: str = ""
    ) -> Path:
        folder = tmp_path / "checkouts" / name
        (folder / ".git").mkdir(parents=True)
        if mode in ("pyproject", "uv-lock"):
            write_pyproject(folder, name, deps, extra=extra)
        if mode == "uv-lock":
            uv_lock(folder)
        if mode == "requirements":
            (folder / "requirements.txt").write_text("".join(f"{d}\n" for d in deps))
        if mode in ("requirements", "bare"):
            (folder / f"{name.replace('-', '_')}.py").write_text(f"WHO = {name!r}\n")
        return folder

    return make


def uv_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    return env


def uv_lock(folder: Path) -> None:
    """Write ``folder/uv.lock`` with the real uv (reads PyPI or the warm cache)."""
    python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run(
        [find_uv(), "lock", "--python", python, "--project", str(folder)],
        check=True,
        capture_output=True,
        env=uv_env(),
    )


def run_python(env: Environment, code: str) -> str:
    """Run ``code`` with the environment's interpreter from a neutral folder; its stdout."""
    proc = subprocess.run(
        [str(env.python), "-c", code],
        capture_output=True,
        text=True,
        cwd=env.path.parent,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()
