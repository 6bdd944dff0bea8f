"""The runs view ``mlrecipes ui`` opens: which columns the MLflow UI shows, and how it is set.

What the MLflow UI (3.17) reads, from its source (mlflow/server/js):

* ``?workflowType=machine_learning`` in the page's URL picks the "Model training"
  side of its GenAI / Model training switch (else the browser's last choice,
  GenAI at first): no Traces, Judges or Prompts sidebar.
* ``?viewStateShareKey=K`` loads the experiment tag ``mlflow.sharedViewState.K``:
  a saved view (``{"name", "createdAt", "state"}``, ``state`` the JSON of the
  table's columns, sort and filters). It also appears under "Views".
* Not settable: which parent rows are expanded (the UI leaves ``runsExpanded``
  out of a saved view), and the Assistant panel, which opens by itself the
  first time a browser loads a UI served on localhost.

The view shows the columns that matter for pipeline runs: the final steps'
metrics (``<step>.<metric>``: the same key fills parent and child rows), the
params the runs override (the swept ones), each repo's commit and each step's
cache status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from mlrecipes.core.manifest import Manifest
from mlrecipes.core.manifest.graph import StepGraph
from mlrecipes.core.tracking.base import (
    RUNS_VIEW,
    TAG_REPO_PREFIX,
    TAG_SAVED_VIEW_PREFIX,
    TAG_STEPS_PREFIX,
    split_step_metric,
)
from mlrecipes.core.tracking.queries import PipelineRunRow

MAX_COLUMNS = 40  # an experiment tag holds 5,000 characters at most on some stores
WORKFLOW = "machine_learning"


def _column(kind: str, key: str) -> str:
    """The UI's column key: ``metrics.`fit.loss```."""
    return f"{kind}.`{key}`"


def final_steps(manifest: Manifest) -> list[str]:
    """Steps nothing reads from: their metrics are what a run is judged by."""
    graph = StepGraph.from_manifest(manifest)
    return [name for name in manifest.steps if not graph.successors.get(name)]


def view_columns(manifest: Manifest, rows: Sequence[PipelineRunRow]) -> list[str]:
    """The columns of the view, in the order a person reads them (see module doc)."""
    finals = set(final_steps(manifest))
    metrics = sorted(
        {
            key
            for row in rows
            for key in row.metrics
            if (split := split_step_metric(key)) and split[0] in finals
        }
    )
    swept = _unique(key.lstrip("+") for row in rows for key in row.overrides)
    repos = [f"{TAG_REPO_PREFIX}{name}.commit" for name in manifest.repos]
    cache = [f"{TAG_STEPS_PREFIX}{name}.cache" for name in manifest.steps]
    columns = [
        *(_column("metrics", key) for key in metrics),
        *(_column("params", key) for key in swept),
        *(_column("tags", key) for key in repos),
        *(_column("tags", key) for key in cache),
    ]
    return columns[:MAX_COLUMNS]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def view_tag(columns: Sequence[str], *, now: float | None = None) -> tuple[str, str]:
    """The experiment tag (key, value) of the saved view with ``columns``."""
    state: dict[str, Any] = {
        "selectedColumns": list(columns),
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
    }
    envelope = {
        "name": RUNS_VIEW,
        "createdAt": int((time.time() if now is None else now) * 1000),
        "state": json.dumps(state),
    }
    return f"{TAG_SAVED_VIEW_PREFIX}{RUNS_VIEW}", json.dumps(envelope)


def save_runs_view(uri: str, manifest: Manifest) -> bool:
    """Write the view as a tag of the manifest's experiment; False when it has none yet."""
    from mlflow import MlflowClient

    from mlrecipes.core.tracking.queries import list_pipeline_runs

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(manifest.experiment)
    if experiment is None:
        return False
    rows = list_pipeline_runs(uri, manifest.experiment, max_results=200)
    key, value = view_tag(view_columns(manifest, rows))
    client.set_experiment_tag(experiment.experiment_id, key, value)
    return True


def view_query(saved: bool) -> str:
    """The query string of the runs page: the model-training side, and the view if saved."""
    query = f"workflowType={WORKFLOW}"
    return f"{query}&viewStateShareKey={RUNS_VIEW}" if saved else query
