"""What a person sees of a pipeline: its DAG as a self-contained HTML page.

:func:`render_pipeline` turns a :class:`PipelineView` (plain data: steps with
their status, commit, duration, metrics and run; edges named by the outputs
they carry) into one HTML string with inline CSS and SVG. Every pipeline run
logs it as ``pipeline.html`` (MLflow's artifact viewer shows it inline);
``mlrecipes dag --format html`` writes it from a plan, before a run.
"""

from mlrecipes.core.view.model import STATUS_LABELS, BoxStatus, Edge, PipelineView, StepBox
from mlrecipes.core.view.pipeline_html import PAGE_NAME, render_pipeline, run_link

__all__ = [
    "PAGE_NAME",
    "STATUS_LABELS",
    "BoxStatus",
    "Edge",
    "PipelineView",
    "StepBox",
    "render_pipeline",
    "run_link",
]
