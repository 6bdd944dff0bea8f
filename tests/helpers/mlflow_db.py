"""A migrated MLflow sqlite store for test workspaces (migrating one takes seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path


def seed_mlflow_db(blank: Path, workspace: Path) -> None:
    """Give ``workspace`` its embedded MLflow store, already migrated."""
    db = workspace / ".mlrecipes" / "mlflow.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(blank, db)
