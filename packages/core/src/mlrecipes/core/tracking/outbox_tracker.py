"""The tracker a command uses: each call becomes a durable outbox event, then a courier
hands it on.

:class:`OutboxTracker` implements :class:`~mlrecipes.core.tracking.base.Tracker`
without MLflow: a call appends its event to the command's segment
(:mod:`.outbox`; fsynced) and returns a *local* run id at once. A courier gets
the events to MLflow:

- :class:`WarmCourier` tells the warm tracker (:mod:`.warm`), starting it when
  none runs; the command does not wait for MLflow.
- :class:`LocalCourier` delivers in this process (no warm tracker: its idle time
  is 0, or one of another version answered).

Only a step whose environment logs to MLflow itself needs its MLflow run id
before it starts: :meth:`OutboxTracker.step_env` has that run delivered at once.
``close()`` with ``wait`` (CI, ``--wait``, ``reproduce``) returns once MLflow
holds everything, or raises :class:`TrackingError` saying what waits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking.base import (
    TAG_LOCAL_ID,
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
)
from mlrecipes.core.tracking.outbox import (
    CreateStep,
    FinishPipeline,
    FinishStep,
    Header,
    RunJob,
    SegmentWriter,
    StartPipeline,
    new_local_id,
)
from mlrecipes.git_sources import redact_text

PUSH_HINT = "they wait in .mlrecipes/outbox; `mlrecipes runs push` delivers them"
_START_TIMEOUT = 60.0


class Courier(Protocol):
    """Gets a segment's events to MLflow."""

    @property
    def background(self) -> bool:
        """True when another process delivers (the command need not wait for it)."""

    def notify(self) -> None:
        """New events are durable: deliver them soon."""

    def resolve(self, local_id: str) -> tuple[str, dict[str, str]] | None:
        """Deliver up to ``local_id``'s creation; its MLflow id and step environment."""

    def deliver(self, timeout: float) -> None:
        """Deliver everything now; :class:`TrackingError` if MLflow could not take it."""

    def close(self) -> None: ...


class LocalCourier:
    """Delivers in this process, on the caller's thread."""

    background = False

    def __init__(self, outbox: Path, uri: str) -> None:
        self.outbox, self.uri = outbox, uri
        self._deliverer: Any = None

    @property
    def deliverer(self) -> Any:
        if self._deliverer is None:
            from mlrecipes.core.tracking.deliver import Deliverer

            self._deliverer = Deliverer(self.outbox)
        return self._deliverer

    def notify(self) -> None:
        """Nothing: :meth:`deliver` does it all when the command ends."""

    def resolve(self, local_id: str) -> tuple[str, dict[str, str]] | None:
        self.deliverer.deliver_all(lock_timeout=_START_TIMEOUT)
        run_id = self.deliverer.run_id(local_id)
        return None if run_id is None else (run_id, self.deliverer.step_env(self.uri, run_id))

    def deliver(self, timeout: float) -> None:
        self.deliverer.deliver_all(lock_timeout=timeout)

    def close(self) -> None:
        if self._deliverer is not None:
            self._deliverer.close()


class WarmCourier:
    """Hands events to the warm tracker, starting it if none runs (see :mod:`.warm`)."""

    def __init__(self, paths: WorkspacePaths, uri: str, idle: float) -> None:
        self.paths, self.uri, self.idle = paths, uri, idle
        self._client: Any = None
        self._spawned = False
        self._fallback: LocalCourier | None = None
        self._connect()

    @property
    def background(self) -> bool:
        """False once a tracker of another version answered: then this process delivers."""
        return self._fallback is None

    def notify(self) -> None:
        if self._fallback is None and self._connect():
            self._call({"op": "deliver"})

    def resolve(self, local_id: str) -> tuple[str, dict[str, str]] | None:
        if not self._wait_connected():
            return self._local().resolve(local_id)
        answer = self._call({"op": "deliver", "resolve": local_id, "uri": self.uri, "timeout": 60})
        if answer is None:
            return self._local().resolve(local_id)
        if answer.get("run_id") is None:
            return None
        return str(answer["run_id"]), dict(answer.get("env") or {})

    def deliver(self, timeout: float) -> None:
        if not self._wait_connected():
            self._local().deliver(timeout)
            return
        answer = self._call({"op": "deliver", "wait": True, "timeout": timeout}, timeout + 5)
        if answer is None:
            self._local().deliver(timeout)
        elif not answer.get("ok"):
            raise TrackingError(
                f"MLflow did not take every run: {answer.get('error')}",
                uri=redact_text(self.uri),
                hint=PUSH_HINT,
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._fallback is not None:
            self._fallback.close()

    def _local(self) -> LocalCourier:
        if self._fallback is None:
            self._fallback = LocalCourier(self.paths.outbox, self.uri)
        return self._fallback

    def _connect(self) -> bool:
        from mlrecipes.core.tracking import warm

        if self._client is not None:
            return True
        try:
            self._client = warm.connect(self.paths.tracker_socket, idle=self.idle)
        except warm.TrackerUnavailable as exc:
            if "another version" in str(exc):
                self._fallback = LocalCourier(self.paths.outbox, self.uri)
            elif not self._spawned:
                warm.spawn(self.paths, self.idle)
                self._spawned = True
            return False
        return True

    def _wait_connected(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT
        while self._fallback is None and not self._connect():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return self._fallback is None

    def _call(self, request: dict[str, Any], timeout: float = 65) -> dict[str, Any] | None:
        from mlrecipes.core.tracking import warm

        try:
            answer: dict[str, Any] = self._client.call(request, timeout)
        except (warm.TrackerUnavailable, ValueError):
            self._client.close()
            self._client = None  # it ended (idle, stopped): the next call starts one
            self._spawned = False
            return None
        return answer


def make_courier(paths: WorkspacePaths, uri: str, *, idle: float) -> Courier:
    """The warm tracker's courier, or (``idle`` 0) this process's own."""
    if idle <= 0:
        return LocalCourier(paths.outbox, uri)
    return WarmCourier(paths, uri, idle)


class OutboxTracker:
    """A :class:`Tracker` that writes the outbox and lets a courier deliver it."""

    def __init__(
        self, tracking_uri: str, paths: WorkspacePaths, courier: Courier, *, wait: bool
    ) -> None:
        self.tracking_uri = tracking_uri
        self.paths = paths
        self.courier = courier
        self.wait = wait
        header = Header(tracking_uri, paths.mlflow_artifacts, os.getpid())
        self.writer = SegmentWriter(paths.outbox, header)
        self._params: dict[str, Mapping[str, Any]] = {}
        self._children: dict[str, set[str]] = {}
        self._envs: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()  # step_env is called from the scheduler's thread

    @property
    def segment(self) -> Path:
        return self.writer.dir

    def start_pipeline(self, info: PipelineInfo) -> str:
        local_id = new_local_id()
        artifacts = {key: self.writer.blob(path) for key, path in info.artifacts.items()}
        tags = {**info.tags, TAG_LOCAL_ID: local_id}
        self._append(StartPipeline(local_id, _info(info, tags=tags, artifacts=artifacts)))
        self._children[local_id] = set()
        return local_id

    def create_step_run(self, parent_id: str, info: StepInfo) -> str:
        return self._create(parent_id, info)

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        log = outcome.log_path
        if log is not None and log.is_file() and log.stat().st_size > 0:
            log = self.writer.blob(log, outcome.log_name)
        else:
            log = None
        finished_at = outcome.finished_at if outcome.finished_at is not None else time.time()
        outcome = dataclasses.replace(outcome, log_path=log, log_name=None, finished_at=finished_at)
        for children in self._children.values():
            children.discard(run_id)
        # An end told before its store entry exists waits for it (deliver.py): the
        # warm tracker hears of it with the next event, not now.
        event = FinishStep(run_id, outcome, self._params.pop(run_id, {}))
        self._append(event, notify=outcome.kept is None)

    def log_step_run(self, parent_id: str, info: StepInfo, outcome: StepOutcome) -> str:
        local_id = self._create(parent_id, info)
        self.finish_step(local_id, outcome)
        return local_id

    def finish_pipeline(
        self, parent_id: str, status: RunStatus, summary: PipelineSummary | None = None
    ) -> None:
        if summary is not None and (summary.artifacts or summary.pages):
            artifacts = {k: self.writer.blob(p) for k, p in summary.artifacts.items()}
            pages = tuple(self.writer.blob(page) for page in summary.pages)  # same names
            summary = dataclasses.replace(summary, artifacts=artifacts, pages=pages)
        children = tuple(sorted(self._children.pop(parent_id, ())))
        self._append(FinishPipeline(parent_id, status, summary, children, time.time()))

    def run_job(self, job: PostRunJob, run_id: str) -> None:
        self._append(RunJob(run_id, job))

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> str | None:
        """Asks MLflow, once everything written so far is delivered."""
        from mlrecipes.core.tracking.mlflow_tracker import MlflowTracker

        self.courier.deliver(_START_TIMEOUT)
        return MlflowTracker(self.tracking_uri).find_finished_pipeline(
            experiment, fingerprints_hash
        )

    def step_env(self, run_id: str) -> dict[str, str]:
        """The run's MLflow id and store, for a step that logs to it itself.

        Unlike other trackers this waits for MLflow: the run is delivered first
        (see module doc). :class:`TrackingError` when the store cannot take it.
        """
        with self._lock:
            env = self._envs.get(run_id)
            if env is None:
                found = self.courier.resolve(run_id)
                if found is None:
                    raise TrackingError(
                        f"run {run_id} is not in MLflow yet", uri=redact_text(self.tracking_uri)
                    )
                env = self._envs[run_id] = found[1]
        return dict(env)

    def close(self) -> None:
        """End the segment; with ``wait``, return once MLflow holds all of it."""
        self.writer.close()
        try:
            if self.wait:
                self.courier.deliver(_START_TIMEOUT * 5)
            elif not self.courier.background:
                with contextlib.suppress(TrackingError):  # the runs wait; the command says so
                    self.courier.deliver(_START_TIMEOUT * 5)
            else:
                with contextlib.suppress(TrackingError):
                    self.courier.notify()
        finally:
            self.courier.close()

    def _create(self, parent_id: str, info: StepInfo) -> str:
        local_id = new_local_id()
        tags = {**info.tags, TAG_LOCAL_ID: local_id}
        self._append(CreateStep(local_id, parent_id, dataclasses.replace(info, tags=tags)))
        self._params[local_id] = info.params
        self._children.setdefault(parent_id, set()).add(local_id)
        return local_id

    def _append(self, event: Any, *, notify: bool = True) -> None:
        with self._lock:
            self.writer.append(event)
            if notify:
                self.courier.notify()


def _info(info: PipelineInfo, **changes: Any) -> PipelineInfo:
    return dataclasses.replace(info, **changes)
