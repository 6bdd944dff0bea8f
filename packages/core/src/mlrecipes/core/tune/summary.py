"""The study's run in MLflow: its trials' pipeline runs are its children.

MLflow's usual shape for a search (study -> trial -> step runs): the study run
is created before the first trial, each trial's parent run names it as
``mlflow.parentRunId``, and it ends with the search space (params), the best
trial (tags), ``best_value`` and the trial counts (metrics) and ``study.json``
(every trial). ``best_value`` is not named after the objective: a study run is
no trial and must not sort among them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking import PipelineInfo
from mlrecipes.core.tracking.background import BackgroundTracker
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

BEST_VALUE = "best_value"


def study_info(
    experiment: str, study: str, objective: str, direction: str, space: Mapping[str, str]
) -> PipelineInfo:
    """The study run as it starts (``mlrecipes.kind=study``)."""
    tags = {
        TAG_KIND: KIND_STUDY,
        TAG_STUDY: study,
        TAG_OBJECTIVE: objective,
        TAG_DIRECTION: direction,
    }
    return PipelineInfo(
        experiment=experiment,
        run_name=f"study {study}",
        tags=tags,
        params=dict(space),
        started_at=time.time(),
    )


def finish_study_run(
    result: TuneResult, paths: WorkspacePaths, tracker: BackgroundTracker, run_id: str
) -> None:
    """End the study run with its best trial, trial counts and ``study.json``."""
    # a temp folder: no file name is made from the study's name (any text)
    paths.tmp.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="study-", dir=paths.tmp))
    try:
        trials = scratch / "study.json"
        trials.write_text(json.dumps([asdict(t) for t in result.trials], indent=2, default=str))
        best = result.best
        tags = {TAG_KIND: KIND_STUDY}
        metrics = {
            "trials.complete": float(sum(t.state == "COMPLETE" for t in result.trials)),
            "trials.failed": float(len(result.failed)),
        }
        if best is not None and best.value is not None:
            tags[TAG_BEST_TRIAL] = str(best.number)
            tags[TAG_BEST_RUN] = best.run_id or ""
            metrics[BEST_VALUE] = best.value
        summary = PipelineSummary(tags=tags, metrics=metrics, artifacts={"study": trials})
        tracker.finish_pipeline(run_id, "FINISHED", summary)
        tracker.flush()  # the outbox has copied study.json: the scratch folder may go
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
