"""Reuse without uv when nothing changed; a new environment when dependencies do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlrecipes.core.envs import (
    Environment,
    EnvSpec,
    _uv,
    ensure_environment,
    environment_key,
    environment_status,
)

PythonIn = Callable[[Environment, str], str]


def _no_uv() -> str:
    raise AssertionError("uv must not run when the environment is ready")


def test_unchanged_dependencies_reuse_the_environment_without_uv(
    make_project: Callable[..., Path],
    envs_dir: Path,
    python_in: PythonIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = make_project("feat", ["six==1.17.0"])
    spec = EnvSpec("feat", folder)
    first = ensure_environment(spec, envs_dir=envs_dir)
    marker = first.path / ".mlrecipes-env.json"
    stamp = marker.stat().st_mtime_ns
    # A new commit: new code and metadata, same dependencies.
    (folder / "src" / "feat" / "__init__.py").write_text("WHO = 'commit 2'\n")
    text = (folder / "pyproject.toml").read_text()
    (folder / "pyproject.toml").write_text(text.replace('version = "0.1.0"', 'version = "0.2.0"'))
    monkeypatch.setattr(_uv, "find_uv", _no_uv)
    monkeypatch.setenv("PATH", "")
    again = ensure_environment(spec, envs_dir=envs_dir)
    assert again == first
    assert marker.stat().st_mtime_ns == stamp
    assert environment_status(spec, envs_dir=envs_dir) == "ready"
    monkeypatch.undo()
    # Editable: the reused environment sees the new commit's code.
    assert python_in(again, "import feat; print(feat.WHO)") == "commit 2"


def test_changed_dependencies_build_a_new_environment(
    make_project: Callable[..., Path], envs_dir: Path, python_in: PythonIn
) -> None:
    folder = make_project("feat", ["six==1.16.0"])
    spec = EnvSpec("feat", folder)
    first = ensure_environment(spec, envs_dir=envs_dir)
    text = (folder / "pyproject.toml").read_text()
    (folder / "pyproject.toml").write_text(text.replace("six==1.16.0", "six==1.17.0"))
    assert environment_key(spec) != first.key
    assert environment_status(spec, envs_dir=envs_dir) == "stale"
    second = ensure_environment(spec, envs_dir=envs_dir)
    assert second.key == environment_key(spec) and second.deps_hash != first.deps_hash
    assert python_in(second, "import six; print(six.__version__)") == "1.17.0"
    # The old one stays (another workspace or an older commit may still use it).
    assert python_in(first, "import six; print(six.__version__)") == "1.16.0"
    assert environment_status(spec, envs_dir=envs_dir) == "ready"


def test_deps_hash_does_not_depend_on_the_checkout_path(
    make_project: Callable[..., Path], envs_dir: Path
) -> None:
    one = ensure_environment(
        EnvSpec("one", make_project("one", ["six==1.17.0"])), envs_dir=envs_dir
    )
    two = make_project("two", ["six==1.17.0"])
    # Same name and dependencies, another folder (another workspace's checkout).
    (two / "pyproject.toml").write_text(
        (two / "pyproject.toml").read_text().replace('"two"', '"one"')
    )
    (two / "src" / "two").rename(two / "src" / "one")
    other = ensure_environment(EnvSpec("one", two), envs_dir=envs_dir)
    assert other.key != one.key and other.deps_hash == one.deps_hash


def test_status_of_a_missing_project_or_environment(
    make_project: Callable[..., Path], envs_dir: Path, tmp_path: Path
) -> None:
    assert environment_status(EnvSpec("gone", tmp_path / "nowhere"), envs_dir=envs_dir) == "missing"
    folder = make_project("feat", ["six"])
    assert environment_status(EnvSpec("feat", folder), envs_dir=envs_dir) == "missing"
