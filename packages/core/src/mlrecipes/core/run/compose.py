"""The one place that wires the run layer's side effects: the tracker and the executor.

:func:`~mlrecipes.core.run.pipeline.run_pipeline` takes a :class:`RunServices`;
the defaults log to MLflow from a worker process and run steps with the
executor the options or the manifest name. Tests pass a
:class:`~mlrecipes.core.tracking.recording.RecordingTracker` and a fake executor.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass

from mlrecipes.core.executors import Executor
from mlrecipes.core.executors.select import make_executor
from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.tracking.background import BackgroundTracker
from mlrecipes.core.tracking.base import PostRunJob


def default_jobs() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


AfterStep = Callable[[StepResult], "PostRunJob | None"]
"""Given a step that ran, a job to run once its MLflow run exists (or None)."""


@dataclass(frozen=True)
class RunServices:
    """Builds the tracker (given the tracking URI) and the executor of one run.

    ``after_step`` is the hook for work that needs a step's run but must not hold
    up the pipeline (e.g. uploading its outputs to a team store as artifacts of
    that run): its job is queued on the tracker behind the step's logging and
    runs in the tracker process (see :data:`~mlrecipes.core.tracking.base.PostRunJob`).
    """

    tracker: Callable[[str], BackgroundTracker]
    executor: Callable[[], Executor]
    executor_kind: str = "local"
    after_step: AfterStep | None = None


def default_services(manifest: Manifest, paths: WorkspacePaths, options: RunOptions) -> RunServices:
    """MLflow in a worker process (started when first needed), the configured executor."""

    def tracker(uri: str) -> BackgroundTracker:
        from mlrecipes.core.tracking.process import ProcessTracker

        return BackgroundTracker(
            lambda: ProcessTracker(
                uri,
                artifact_root=paths.mlflow_artifacts,
                live_dir=paths.live,
                log_file=paths.tracker_log,
            )
        )

    config = manifest.executor
    kind = options.executor or config.kind
    steps = manifest.steps

    def executor() -> Executor:
        return make_executor(
            kind,
            jobs=options.jobs or default_jobs(),
            address=options.ray_address or config.address,
            resources_of=lambda task: steps[task.step].resources if task.step in steps else None,
        )

    return RunServices(tracker=tracker, executor=executor, executor_kind=kind)


def first_run_of(paths: WorkspacePaths, options: RunOptions) -> bool:
    """True when this run will surely log (nothing was ever logged from here).

    Then the tracker is worth starting before the sync: importing MLflow and
    opening its store (seconds) overlap with checkouts and environment builds.
    A later run may have nothing to do, so it starts the tracker only if needed.
    """
    return not options.dry_run and not any(paths.runs.glob("*.json"))


def started_early(services: RunServices, uri: str) -> tuple[RunServices, BackgroundTracker]:
    """``services`` with its tracker already starting; close that tracker if unused."""
    tracker = services.tracker(uri)
    return dataclasses.replace(services, tracker=lambda _uri: tracker), tracker
