"""The saved runs view: its columns and the experiment tag the MLflow UI reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers.workspaces import write_manifest

from mlrecipes.core.manifest import load_manifest
from mlrecipes.core.tracking.queries import PipelineRunRow
from mlrecipes.core.tracking.ui_view import view_columns, view_query, view_tag

MANIFEST = """
version: 1
name: churn
repos:
  code: {url: ../code, rev: main}
steps:
  prep: {fn: "code:m.prep", outs: {t: t.txt}}
  train: {fn: "code:m.train", params: {lr: 0.1}, deps: {t: !out prep.t}, outs: {m: m.txt}}
"""


def _row(overrides: dict[str, str], metrics: dict[str, float]) -> PipelineRunRow:
    at = datetime.now(UTC)
    return PipelineRunRow("r", "n", "FINISHED", at, at, overrides, metrics)


def test_columns_are_final_metrics_swept_params_commits_and_cache(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, MANIFEST))
    rows = [
        _row({"train.lr": "0.1"}, {"prep.rows": 3.0, "train.auc": 0.9}),
        _row({"+train.seed": "2"}, {"train.loss": 0.1}),
    ]
    assert view_columns(manifest, rows) == [
        "metrics.`train.auc`",
        "metrics.`train.loss`",
        "params.`train.lr`",
        "params.`train.seed`",
        "tags.`mlrecipes.repo.code.commit`",
        "tags.`mlrecipes.steps.prep.cache`",
        "tags.`mlrecipes.steps.train.cache`",
    ]


def test_the_tag_is_a_saved_view_envelope_the_ui_opens_by_key() -> None:
    key, value = view_tag(["metrics.`train.auc`"], now=1.5)
    assert key == "mlflow.sharedViewState.mlrecipes"
    envelope = json.loads(value)
    assert envelope["name"] == "mlrecipes" and envelope["createdAt"] == 1500
    assert json.loads(envelope["state"])["selectedColumns"] == ["metrics.`train.auc`"]
    assert view_query(True) == "workflowType=machine_learning&viewStateShareKey=mlrecipes"
    assert view_query(False) == "workflowType=machine_learning"
