"""End-to-end fixtures: every workspace starts with a migrated MLflow store (saves seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import workspaces


@pytest.fixture(autouse=True, scope="session")
def _seed_blank_db(blank_mlflow_db: Path) -> None:
    workspaces.BLANK_DB[:] = [blank_mlflow_db]
