"""A monorepo: one uv workspace, one lock at its root, one environment per member."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlrecipes.core.envs import Environment, EnvSpec, ensure_environments

PythonIn = Callable[[Environment, str], str]


def test_workspace_members_get_their_own_environments(
    tmp_path: Path,
    pyproject: Callable[..., None],
    lock: Callable[[Path], None],
    envs_dir: Path,
    python_in: PythonIn,
) -> None:
    root = tmp_path / "mono"
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "mono"\nversion = "0"\nrequires-python = ">=3.11"\n'
        '[tool.uv.workspace]\nmembers = ["packages/*"]\n'
    )
    pyproject(root / "packages" / "features", "features", ["six==1.17.0"])
    pyproject(root / "packages" / "models", "models", [])
    lock(root)
    assert not (root / "packages" / "features" / "uv.lock").exists()
    specs = [
        EnvSpec("features", root / "packages" / "features"),
        EnvSpec("models", root / "packages" / "models"),
    ]
    lines: list[str] = []
    results = ensure_environments(
        specs, envs_dir=envs_dir, jobs=2, on_output=lambda repo, line: lines.append(line)
    )
    features, models = results["features"], results["models"]
    assert isinstance(features, Environment) and isinstance(models, Environment)
    assert features.mode == models.mode == "uv-lock"
    assert features.key != models.key and features.deps_hash != models.deps_hash
    assert python_in(features, "import features, six; print(six.__version__)") == "1.17.0"
    has_six = "import importlib.util as u; print(u.find_spec('six') is not None)"
    assert python_in(models, "import models; print(models.WHO)") == "models"
    assert python_in(models, has_six) == "False"
    # Each member alone: the root project is not installed.
    assert python_in(models, "import importlib.util as u; print(u.find_spec('mono'))") == "None"
