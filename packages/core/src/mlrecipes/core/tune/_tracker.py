"""One tracker for all the trials of a study: MLflow's worker process starts once.

Each pipeline run builds its tracker and closes it when it ends; the default
one is a worker process that imports MLflow (seconds). A study hands every trial
a :class:`SharedTracker` instead, whose ``close`` leaves the worker running; the
study closes the worker itself when its last trial has ended.
"""

from __future__ import annotations

from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.compose import RunServices, default_services
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.tracking.background import BackgroundTracker
from mlrecipes.core.tracking.base import (
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
    Tracker,
)


class SharedTracker:
    """A :class:`Tracker` that forwards every call to ``inner`` but never closes it."""

    def __init__(self, inner: Tracker) -> None:
        self.inner = inner

    def start_pipeline(self, info: PipelineInfo) -> str:
        return self.inner.start_pipeline(info)

    def create_step_run(self, parent_id: str, info: StepInfo) -> str:
        return self.inner.create_step_run(parent_id, info)

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        self.inner.finish_step(run_id, outcome)

    def log_step_run(self, parent_id: str, info: StepInfo, outcome: StepOutcome) -> str:
        return self.inner.log_step_run(parent_id, info, outcome)

    def finish_pipeline(
        self, parent_id: str, status: RunStatus, summary: PipelineSummary | None = None
    ) -> None:
        self.inner.finish_pipeline(parent_id, status, summary)

    def run_job(self, job: PostRunJob, run_id: str) -> None:
        self.inner.run_job(job, run_id)

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> str | None:
        return self.inner.find_finished_pipeline(experiment, fingerprints_hash)

    def step_env(self, run_id: str) -> dict[str, str]:
        return self.inner.step_env(run_id)

    def close(self) -> None:
        """Nothing: the study closes ``inner`` after its last trial."""


def study_tracker(uri: str, paths: WorkspacePaths) -> Tracker:
    """The worker-process tracker a run would build (see ``run.compose``), for a study."""
    from mlrecipes.core.tracking.process import ProcessTracker

    return ProcessTracker(
        uri,
        artifact_root=paths.mlflow_artifacts,
        live_dir=paths.live,
        log_file=paths.tracker_log,
    )


def trial_services(
    manifest: Manifest, paths: WorkspacePaths, options: RunOptions, shared: Tracker
) -> RunServices:
    """The default services of a run, with the study's tracker in place of a new one."""
    defaults = default_services(manifest, paths, options)
    wrapped = SharedTracker(shared)
    return RunServices(
        tracker=lambda _uri: BackgroundTracker(wrapped),
        executor=defaults.executor,
        executor_kind=defaults.executor_kind,
        after_step=defaults.after_step,
    )


__all__ = ["SharedTracker", "study_tracker", "trial_services"]
