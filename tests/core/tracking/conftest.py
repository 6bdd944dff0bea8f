"""Fixtures of the tracking tests: a fresh sqlite MLflow store per test, made fast.

Creating an MLflow sqlite database runs every schema migration (seconds); a blank
database is made once per session and copied for each test instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def store(tmp_path: Path, blank_mlflow_db: Path) -> str:
    """The URI of a fresh sqlite store at ``<tmp>/ws/.mlrecipes/mlflow.db``."""
    db = tmp_path / "ws" / ".mlrecipes" / "mlflow.db"
    db.parent.mkdir(parents=True)
    shutil.copyfile(blank_mlflow_db, db)
    return f"sqlite:///{db}"
