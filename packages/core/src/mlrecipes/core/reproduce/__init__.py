"""``mlrecipes reproduce``: rebuild a logged run from MLflow, rerun it, compare its metrics."""

from mlrecipes.core.reproduce.compare import MetricComparison, compare_metrics, within
from mlrecipes.core.reproduce.origin import TAG_REPRODUCES
from mlrecipes.core.reproduce.run import (
    COMPARISON_ARTIFACT,
    TAG_RESULT,
    ReproduceResult,
    reproduce_run,
)
from mlrecipes.core.reproduce.uri import reproduce_tracking_uri

__all__ = [
    "COMPARISON_ARTIFACT",
    "TAG_REPRODUCES",
    "TAG_RESULT",
    "MetricComparison",
    "ReproduceResult",
    "compare_metrics",
    "reproduce_run",
    "reproduce_tracking_uri",
    "within",
]
