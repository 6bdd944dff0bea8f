"""What an environment can do, read from its files (cheap, cached per process)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def has_mlflow(env_path: Path) -> bool:
    """True when ``import mlflow`` works in the environment at ``env_path``.

    A step of such an environment may log to MLflow itself, so it is given its
    run id before it starts; every other step runs without waiting for MLflow.
    An environment folder never changes once complete (its key names its
    contents), so one look per process is enough.
    """
    patterns = (
        "lib/python*/site-packages/mlflow/__init__.py",
        "Lib/site-packages/mlflow/__init__.py",
    )
    return any(next(env_path.glob(pattern), None) is not None for pattern in patterns)
