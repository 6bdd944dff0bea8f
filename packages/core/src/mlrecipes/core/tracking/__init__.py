"""Logging pipeline runs to MLflow: a parent run per pipeline run, a child per executed step.

``import mlrecipes.core.tracking`` does not import MLflow (that takes seconds):
:class:`MlflowTracker` imports it when constructed, the query functions when called.
A ``run`` writes its events to the durable outbox (:mod:`.outbox`,
:class:`~.outbox_tracker.OutboxTracker`) and the warm tracker (:mod:`.warm`)
delivers them, so MLflow is not imported by the orchestrator at all.
"""

from mlrecipes.core.tracking._client import check_connection, make_client, translate_errors
from mlrecipes.core.tracking._limits import sanitize_metric_key, sanitize_metrics
from mlrecipes.core.tracking.background import BackgroundTracker, RunRef
from mlrecipes.core.tracking.base import (
    ARTIFACTS_DIR,
    KIND_PIPELINE,
    KIND_STEP,
    TAG_FINGERPRINTS,
    TAG_KIND,
    TAG_OVERRIDES,
    TAG_PARENT,
    TAG_STEP,
    PipelineInfo,
    PipelineSummary,
    RepoRef,
    RunStatus,
    StepInfo,
    StepOutcome,
    Tracker,
)
from mlrecipes.core.tracking.mlflow_tracker import MlflowTracker
from mlrecipes.core.tracking.queries import (
    PipelineRunRow,
    download_pipeline_artifacts,
    get_run_tags,
    list_pipeline_runs,
)
from mlrecipes.core.tracking.recording import RecordedRun, RecordingTracker

__all__ = [
    "ARTIFACTS_DIR",
    "KIND_PIPELINE",
    "KIND_STEP",
    "TAG_FINGERPRINTS",
    "TAG_KIND",
    "TAG_OVERRIDES",
    "TAG_PARENT",
    "TAG_STEP",
    "BackgroundTracker",
    "MlflowTracker",
    "PipelineInfo",
    "PipelineRunRow",
    "PipelineSummary",
    "RecordedRun",
    "RecordingTracker",
    "RepoRef",
    "RunRef",
    "RunStatus",
    "StepInfo",
    "StepOutcome",
    "Tracker",
    "check_connection",
    "download_pipeline_artifacts",
    "get_run_tags",
    "list_pipeline_runs",
    "make_client",
    "sanitize_metric_key",
    "sanitize_metrics",
    "translate_errors",
]
