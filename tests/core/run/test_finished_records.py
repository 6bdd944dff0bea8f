"""The "up to date" record of a pipeline run and the store it was logged to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlrecipes.core.plan.records import read_finished_run, write_finished_run


def test_a_first_run_recorded_before_its_store_exists_is_up_to_date_after_delivery(
    tmp_path: Path,
) -> None:
    """A workspace's first run is recorded before the warm tracker creates mlflow.db; the
    next command must still find it (it once logged the same pipeline a second time)."""
    db = tmp_path / ".mlrecipes" / "mlflow.db"
    uri = f"sqlite:///{db}"
    runs = tmp_path / "runs"
    runs.mkdir()
    write_finished_run(runs, "abc", uri, "local-1")
    assert db.exists()
    with sqlite3.connect(db) as conn:  # the tracker migrates the store in place
        conn.execute("CREATE TABLE runs (id TEXT)")
    assert read_finished_run(runs, "abc", uri) == "local-1"


def test_a_deleted_store_is_not_trusted(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    db.touch()
    write_finished_run(tmp_path, "abc", uri, "run-1")
    assert read_finished_run(tmp_path, "abc", uri) == "run-1"
    db.unlink()  # the run is gone with it: log the pipeline again
    assert read_finished_run(tmp_path, "abc", uri) is None
