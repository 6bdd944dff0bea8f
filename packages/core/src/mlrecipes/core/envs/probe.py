"""What an environment can do, read from its files (cheap, cached per process)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def _env_has_mlflow(env_path: Path) -> bool:
    # An environment folder never changes once complete (its key names its
    # contents), so one look per process is enough.
    patterns = (
        "lib/python*/site-packages/mlflow/__init__.py",
        "Lib/site-packages/mlflow/__init__.py",
    )
    return any(next(env_path.glob(pattern), None) is not None for pattern in patterns)


def has_mlflow(env_path: Path, project_dir: Path | None = None) -> bool:
    """True when ``import mlflow`` works in a step of this environment and project.

    A step that can import MLflow may log to its run itself, so it is given its
    run id before it starts; every other step runs without waiting for MLflow.
    The step runner puts the project folder first on ``sys.path``, so a package
    there counts too.
    """
    if _env_has_mlflow(env_path):
        return True
    return project_dir is not None and (
        (project_dir / "mlflow" / "__init__.py").is_file() or (project_dir / "mlflow.py").is_file()
    )
