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

from mlrecipes.core.errors import UserError
from mlrecipes.core.events import EventHandler
from mlrecipes.core.executors import Executor
from mlrecipes.core.executors.select import make_executor
from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.sync.lock import Lock, lock_path_for, read_lock
from mlrecipes.core.team_store.config import ShareSettings
from mlrecipes.core.tracking.background import BackgroundTracker
from mlrecipes.core.tracking.base import PostRunJob

if TYPE_CHECKING:
    from mlrecipes.core.team_store import TeamStore


def default_jobs() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if TYPE_CHECKING:
    from mlrecipes.core.team_store.ray_driver import StoreMode

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
    runs_ahead: bool = False
    """Every executed step's MLflow run exists before it starts (Ray's ``store`` mode:
    the node publishes the step's outputs into it), and the node does the uploads."""


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

    store_mode = check_storage(manifest, options)

    def executor() -> Executor:
        return make_executor(
            kind,
            jobs=options.jobs or default_jobs(),
            address=options.ray_address or config.address,
            resources_of=lambda task: steps[task.step].resources if task.step in steps else None,
            store=_store_mode(manifest, paths, options) if store_mode else None,
        )

    def team_store(uri: str, on_event: EventHandler) -> TeamStore | None:
        from mlrecipes.core.team_store import TeamStore, share_settings

        settings = share_settings(manifest.store, uri, enabled=options.share)
        if settings is None:
            return None
        return TeamStore(settings, manifest.experiment, on_event, paths.tmp)

    return RunServices(
        tracker=tracker,
        executor=executor,
        executor_kind=kind,
        team_store=team_store,
        runs_ahead=store_mode,
    )


def check_storage(manifest: Manifest, options: RunOptions) -> bool:
    """True for Ray's ``store`` mode; a UserError at once when it has no team store."""
    kind = options.executor or manifest.executor.kind
    store_mode = kind == "ray" and (options.ray_storage or manifest.executor.storage) == "store"
    if store_mode:
        store_mode_settings(manifest, options)  # fail before anything syncs or runs
    return store_mode


def store_mode_settings(manifest: Manifest, options: RunOptions) -> ShareSettings:
    """The team store that Ray's ``store`` mode moves data through, or a UserError."""
    from mlrecipes.core.manifest.validate import TEAM_STORE_HINT, store_mode_problem
    from mlrecipes.core.team_store import share_settings
    from mlrecipes.core.tracking.uri import tracking_uri

    uri = tracking_uri(manifest)
    settings = share_settings(manifest.store, uri, enabled=options.share)
    if settings is None:
        problem = store_mode_problem(manifest, uri) or (
            "executor.storage: store moves data through the team store, which --no-share turns off"
        )
        raise UserError(problem, hint=TEAM_STORE_HINT)
    return settings


def _store_mode(manifest: Manifest, paths: WorkspacePaths, options: RunOptions) -> StoreMode:
    from mlrecipes.core.team_store.ray_driver import StoreMode

    lock = read_lock(lock_path_for(manifest.path)) or Lock(repos={})
    return StoreMode(manifest, lock, store_mode_settings(manifest, options), paths.store)
