"""MLflow's rule for the names of params, metrics and tags, checked without importing MLflow.

Copied from ``mlflow/utils/validation.py`` (MLflow 3.x): ``MAX_ENTITY_KEY_LENGTH``
(250), ``validate_param_and_metric_name`` (``^[/\\w.\\- :]*$``; on Windows MLflow
also refuses ``:``, and so do we, so a workspace moves between systems) and
``path_not_unique`` (a name must not change under ``posixpath.normpath``).
``validate`` applies it to every name a run would log as an MLflow param, so a
name MLflow would refuse is reported with its location instead of dropped at
run time. Update it with MLflow: tests/core/test_mlflow_names.py compares it
with MLflow's own functions.
"""

from __future__ import annotations

import posixpath
import re

MAX_NAME_LENGTH = 250
_NAME = re.compile(r"^[/\w.\- ]*$")
HINT = "MLflow names may hold letters, digits, '_', '-', '.', ' ' and '/', up to 250 characters"


def mlflow_name_problem(name: str) -> str | None:
    """Why MLflow would refuse ``name`` as a param, metric or tag key, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long, MLflow takes at most {MAX_NAME_LENGTH}"
    if not name or not _NAME.match(name):
        return "holds characters MLflow refuses in a param name"
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"):
        return "would read as another path in MLflow (no '//', leading '/', '.' or '..' parts)"
    return None


def logged_param_name(key_path: str) -> str | None:
    """The MLflow param a manifest key path is logged as (``steps.s.params.opt.lr`` ->
    ``opt.lr``), or None when it is not logged under its own name (inside a list)."""
    if "[" in key_path:
        return None
    if key_path.startswith("params."):
        return key_path.removeprefix("params.")
    _, sep, rest = key_path.partition(".params.")
    return rest if sep else None


# The longest MLflow key built from a step name: the parent run's
# `mlrecipes.steps.<step>.source_run` tag (tracking/base.py, step_summary_tags).
_LONGEST_STEP_KEY = "mlrecipes.steps.{}.source_run"
MAX_STEP_NAME = MAX_NAME_LENGTH - len(_LONGEST_STEP_KEY.format(""))


def step_name_problem(name: str) -> str | None:
    """A step name too long for the MLflow tag keys that hold it."""
    if len(name) > MAX_STEP_NAME:
        return f"is {len(name)} characters long; MLflow tag keys fit step names of {MAX_STEP_NAME}"
    return None
