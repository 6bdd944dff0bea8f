"""The study's summary run in MLflow: search space, best trial and value, all trials."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking import MlflowTracker, PipelineInfo
from mlrecipes.core.tracking.base import (
    KIND_STUDY,
    TAG_BEST_RUN,
    TAG_BEST_TRIAL,
    TAG_DIRECTION,
    TAG_KIND,
    TAG_OBJECTIVE,
    TAG_STUDY,
    PipelineSummary,
)
from mlrecipes.core.tune.result import TuneResult


def log_summary(result: TuneResult, paths: WorkspacePaths) -> str:
    """Log one run (``mlrecipes.kind=study``) for this ``tune`` call; its id.

    Its params are the search space as written, its metric the best value (named
    after the objective), its artifact ``study.json`` every trial of the study.
    """
    # a temp folder: no file name is made from the study's name (any text)
    paths.tmp.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="study-", dir=paths.tmp))
    trials = scratch / "study.json"
    trials.write_text(json.dumps([asdict(t) for t in result.trials], indent=2, default=str))
    best = result.best
    tags = {
        TAG_KIND: KIND_STUDY,
        TAG_STUDY: result.study,
        TAG_OBJECTIVE: result.objective,
        TAG_DIRECTION: result.direction,
    }
    metrics = {
        "trials.complete": float(sum(t.state == "COMPLETE" for t in result.trials)),
        "trials.failed": float(len(result.failed)),
    }
    if best is not None and best.value is not None:
        tags[TAG_BEST_TRIAL] = str(best.number)
        tags[TAG_BEST_RUN] = best.run_id or ""
        metrics[result.objective] = best.value
    info = PipelineInfo(
        experiment=result.experiment,
        run_name=f"study {result.study}",
        tags=tags,
        params=dict(result.space),
        artifacts={"study": trials},
    )
    tracker = MlflowTracker(result.tracking_uri, artifact_root=paths.mlflow_artifacts)
    try:
        run_id = tracker.start_pipeline(info)
        # The tracker starts every parent as a pipeline run; the summary says what it is.
        summary = PipelineSummary(tags={TAG_KIND: KIND_STUDY}, metrics=metrics)
        tracker.finish_pipeline(run_id, "FINISHED", summary)
    finally:
        tracker.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return run_id
