"""The one place that wires the run layer's side effects: tracker, executor, team store.

:func:`~mlrecipes.core.run.pipeline.run_pipeline` requires a :class:`RunServices`;
:func:`default_services` builds the real ones: the outbox tracker (events made
durable, then handed to the warm tracker; see :mod:`mlrecipes.core.tracking.warm`),
the executor the options or the manifest name, and the team store the manifest
and the tracking URI call for. Tests pass a
:class:`~mlrecipes.core.tracking.recording.RecordingTracker` and a fake executor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlrecipes.core.events import EventHandler
from mlrecipes.core.executors import Executor
from mlrecipes.core.executors.select import make_executor
from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.tracking.background import BackgroundTracker
from mlrecipes.core.tracking.base import PostRunJob

if TYPE_CHECKING:
    from mlrecipes.core.team_store import TeamStore


def default_jobs() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


AfterStep = Callable[[StepResult], "PostRunJob | None"]
"""Given a step that ran, a job to run once its MLflow run exists (or None)."""

TeamStoreFactory = Callable[[str, EventHandler], "TeamStore | None"]
"""Given the tracking URI and the event handler, the run's team store (or None)."""


def no_team_store(_uri: str, _on_event: EventHandler) -> TeamStore | None:
    return None


@dataclass(frozen=True)
class RunServices:
    """Builds the tracker (given the tracking URI), the executor and the team store of a run.

    ``after_step`` is the hook for work that needs a step's run but must not hold
    up the pipeline (e.g. uploading its outputs to a team store as artifacts of
    that run): its job is queued on the tracker behind the step's logging and
    runs where the events are delivered (see
    :data:`~mlrecipes.core.tracking.base.PostRunJob`). With a team store and no
    ``after_step`` of its own, the team store's upload is the hook.
    """

    tracker: Callable[[str], BackgroundTracker]
    executor: Callable[[], Executor]
    executor_kind: str = "local"
    after_step: AfterStep | None = None
    team_store: TeamStoreFactory = no_team_store


def must_wait(options: RunOptions) -> bool:
    """True when the command returns only once MLflow holds every run (CI, ``--wait``)."""
    return options.wait or bool(os.environ.get("CI"))


def default_services(manifest: Manifest, paths: WorkspacePaths, options: RunOptions) -> RunServices:
    """The outbox tracker, the configured executor, the team store if shared."""

    def tracker(uri: str) -> BackgroundTracker:
        from mlrecipes.core.tracking.outbox_tracker import OutboxTracker, make_courier
        from mlrecipes.core.tracking.warm import idle_seconds

        def build() -> OutboxTracker:
            courier = make_courier(paths, uri, idle=idle_seconds())
            return OutboxTracker(uri, paths, courier, wait=must_wait(options))

        return BackgroundTracker(build)

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

    def team_store(uri: str, on_event: EventHandler) -> TeamStore | None:
        from mlrecipes.core.team_store import TeamStore, share_settings

        settings = share_settings(manifest.store, uri, enabled=options.share)
        if settings is None:
            return None
        return TeamStore(settings, manifest.experiment, on_event, paths.tmp)

    return RunServices(
        tracker=tracker, executor=executor, executor_kind=kind, team_store=team_store
    )
