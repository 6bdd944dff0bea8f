"""`exp show` fits an 80-column terminal; `--columns` chooses, `--wide` shows everything."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.core.tracking._build import pipeline_info, step_info
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import write_manifest
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core.tracking import MlflowTracker, StepOutcome

STEPS = ("featurize", "train", "evaluate", "calibrate")
METRICS = ("auc", "accuracy", "precision", "recall")


@pytest.fixture
def manifest(store: str, tmp_path: Path) -> Path:
    """Three runs of four steps with four metrics each: 16 metric columns."""
    tracker = MlflowTracker(store)
    for i in range(3):
        parent = tracker.start_pipeline(pipeline_info(tmp_path / str(i), overrides={"seed": i}))
        for step in STEPS:
            child = tracker.create_step_run(parent, step_info(step))
            metrics = {name: 0.5 + i / 7 for name in METRICS}
            tracker.finish_step(child, StepOutcome("FINISHED", metrics=metrics))
        tracker.finish_pipeline(parent, "FINISHED")
    tracker.close()
    root = Path(store.removeprefix("sqlite:///")).parents[1]
    return write_manifest(root, f"version: 1\nname: churn\nmlflow: {{tracking_uri: '{store}'}}\n")


@pytest.fixture
def store(tmp_path: Path, blank_mlflow_db: Path) -> str:
    seed_mlflow_db(blank_mlflow_db, tmp_path / "ws")
    return f"sqlite:///{tmp_path / 'ws' / '.mlrecipes' / 'mlflow.db'}"


def show(manifest: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner(env={"COLUMNS": "80"})
    result = runner.invoke(app, ["exp", "show", "-f", str(manifest), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_table_fits_80_columns_and_names_what_it_left_out(manifest: Path) -> None:
    code, out, err = show(manifest)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "seed=2" in out and "run" in out
    assert "more column(s)" in err and "--wide" in err
    code, wide, _ = show(manifest, "--wide")
    assert max(len(line) for line in wide.splitlines()) > 80
    for name in (*STEPS, "features@"):
        assert name in wide


def test_columns_chooses_by_name_and_glob(manifest: Path) -> None:
    code, out, err = show(manifest, "--columns", "run_id,train.*")
    assert code == 0, err
    header = " ".join(out.splitlines()[1:4])
    assert "train" in header and "recall" in header
    assert "evaluate" not in out and "overrides" not in out
    assert err == ""
    code, csv_text, _ = show(manifest, "--columns", "run_id,evaluate.auc", "--csv")
    assert csv_text.splitlines()[0] == "run_id,evaluate.auc"
    code, _, err = show(manifest, "--columns", "trian.*")
    assert code == 1
    assert "no column 'trian.*'" in err and "did you mean" in err


def test_header_names_are_column_names_too(manifest: Path) -> None:
    code, out, err = show(manifest, "--columns", "run,start,overrides")
    assert code == 0, err
    header = next(line for line in out.splitlines() if "run" in line and "start" in line)
    assert [cell.strip() for cell in header.split("┃")[1:4]] == ["run", "start", "overrides"]
    code, _, err = show(manifest)
    note = next(line for line in err.splitlines() if "more column(s)" in line)
    assert "start_time" not in note and "run_id" not in note
