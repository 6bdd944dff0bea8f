"""Tracking off the critical path: every call runs on one worker thread.

An MLflow call costs 20-250 ms; a pipeline makes several per step. The scheduler
must only wait where it needs an id, so :class:`BackgroundTracker` returns
futures: a step's run id (``run_id(future)``) or its environment (``step_env``)
blocks only until that run exists, and ``finish_*`` never block. Calls that
produce ids (``start_pipeline``, ``create_step_run``) jump ahead of queued
finishing calls (metrics, log uploads); within each kind the order of calls is
kept, so a run is always created before it is finished and a pipeline's steps
are finished before the pipeline.

One thread, and the inner tracker is built on it when given as a factory: a
sqlite store must be used from the thread that opened it.

Errors: a call's future carries its error; ``flush()`` and ``close()`` wait for
every queued call and re-raise the first error not raised by them before.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

from mlrecipes.core.tracking.base import (
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
    Tracker,
)

T = TypeVar("T")
RunRef: TypeAlias = "Future[str] | str"
"""A run id, or the future of one from this tracker."""


@dataclass
class _Job:
    call: Callable[[Tracker], Any]
    future: Future[Any]


class BackgroundTracker:
    """Runs a :class:`Tracker`'s calls in order on one worker thread.

    ``inner`` is a tracker, or a function that builds one; pass a function for
    :class:`~mlrecipes.core.tracking.mlflow_tracker.MlflowTracker` so that its
    client is made (and MLflow imported) on the worker thread, off the caller's.
    """

    def __init__(self, inner: Tracker | Callable[[], Tracker]) -> None:
        self._urgent: deque[_Job] = deque()
        self._normal: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._pending = 0
        self._errors: list[BaseException] = []
        self._raised = 0
        self._closing = False
        self._abandoned = False
        self._inner: Future[Tracker] = Future()
        self._thread = threading.Thread(
            target=self._work, args=(inner,), name="mlrecipes-tracker", daemon=True
        )
        self._thread.start()

    @property
    def ready(self) -> bool:
        """True once the inner tracker exists (calls then wait only for those queued before)."""
        return self._inner.done() and self._inner.exception() is None

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the inner tracker exists; raise its error (e.g. server down)."""
        self._inner.result(timeout)

    def start_pipeline(self, info: PipelineInfo) -> Future[str]:
        """The parent run's id, once created."""
        return self._submit(lambda t: t.start_pipeline(info), urgent=True)

    def create_step_run(self, parent: RunRef, info: StepInfo) -> Future[str]:
        """A child run's id, once created; creations run before queued finishing calls."""
        return self._submit(lambda t: t.create_step_run(_resolve(parent), info), urgent=True)

    def prefetch_step_runs(
        self, parent: RunRef, infos: Iterable[StepInfo]
    ) -> dict[str, Future[str]]:
        """Create the runs of ``infos`` ahead, in the given order; futures by step name.

        Runs of steps that never start are ended as KILLED by ``finish_pipeline``.
        """
        return {info.step: self.create_step_run(parent, info) for info in infos}

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> Future[str | None]:
        """Queued after pending finishing calls, so it sees pipelines finished before."""
        return self._submit(
            lambda t: t.find_finished_pipeline(experiment, fingerprints_hash), urgent=False
        )

    def finish_step(self, run: RunRef, outcome: StepOutcome) -> Future[None]:
        """Fire and forget: errors come back from ``flush``/``close``."""
        return self._submit(lambda t: t.finish_step(_resolve(run), outcome), urgent=False)

    def log_step_run(self, parent: RunRef, info: StepInfo, outcome: StepOutcome) -> Future[str]:
        """Log a step that already ran (create, fill, end its run); the run's id."""
        return self._submit(lambda t: t.log_step_run(_resolve(parent), info, outcome), urgent=False)

    def after_run(self, run: RunRef, job: PostRunJob) -> Future[None]:
        """Queue ``job(tracker, run_id)`` once ``run`` exists, behind the logging calls.

        The hook for work that needs a step's run but must not hold up steps,
        e.g. uploading its outputs to a team store as the run's artifacts.
        """
        return self._submit(lambda t: t.run_job(job, _resolve(run)), urgent=False)

    def finish_pipeline(
        self, parent: RunRef, status: RunStatus, summary: PipelineSummary | None = None
    ) -> Future[None]:
        """Fire and forget: errors come back from ``flush``/``close``."""
        return self._submit(
            lambda t: t.finish_pipeline(_resolve(parent), status, summary), urgent=False
        )

    def run_id(self, run: RunRef, timeout: float | None = None) -> str:
        """The id of ``run``, blocking only until it has been created."""
        return _resolve(run, timeout)

    def step_env(self, run: RunRef, timeout: float | None = None) -> dict[str, str]:
        """The environment of a step's process (``MLFLOW_RUN_ID``...), once its run exists."""
        run_id = _resolve(run, timeout)
        return self._inner.result(timeout).step_env(run_id)

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every queued call; raise the first error not raised before."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"tracking calls still pending after {timeout} s")
            if self._raised < len(self._errors):
                first = self._errors[self._raised]
                self._raised = len(self._errors)
                raise first

    def close(self, timeout: float | None = None) -> None:
        """Flush, close the inner tracker on its thread, stop the thread."""
        if self._closing:
            return
        self._submit(lambda t: t.close(), urgent=False)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        try:
            self.flush(timeout)
        finally:
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` or :meth:`abort` was called."""
        return self._closing

    def abort(self, timeout: float | None = 60) -> None:
        """Drop the calls not started yet, then close: the inner tracker ends open runs KILLED.

        For an interrupt while logging: waits for the call in progress only.
        Errors are not raised (the interrupt is what to report). A tracker still
        starting is not waited for: it is closed on its thread once it exists.
        """
        dropped: list[_Job]
        if not self._inner.done():
            with self._cond:
                dropped = [*self._urgent, *self._normal]
                self._urgent.clear()
                self._normal.clear()
                self._pending -= len(dropped)
                self._closing = self._abandoned = True
                self._cond.notify_all()
            for job in dropped:
                job.future.cancel()
            return
        with self._cond:
            if self._closing:
                dropped = []
            else:
                dropped = [*self._urgent, *self._normal]
                self._urgent.clear()
                self._normal.clear()
                self._pending -= len(dropped)
        for job in dropped:
            job.future.cancel()
        with contextlib.suppress(Exception):
            self.close(timeout)

    def __enter__(self) -> BackgroundTracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the error in flight is the one to report
            self.close()

    def _submit(self, call: Callable[[Tracker], T], *, urgent: bool) -> Future[T]:
        future: Future[T] = Future()
        with self._cond:
            if self._closing:
                raise RuntimeError("BackgroundTracker is closed")
            (self._urgent if urgent else self._normal).append(_Job(call, future))
            self._pending += 1
            self._cond.notify_all()
        return future

    def _work(self, inner: Tracker | Callable[[], Tracker]) -> None:
        try:
            tracker = inner if isinstance(inner, Tracker) else inner()
        except BaseException as exc:
            self._inner.set_exception(exc)
            with self._cond:
                self._errors.append(exc)
        else:
            self._inner.set_result(tracker)
        while (job := self._next_job()) is not None:
            self._run(job)
        if self._abandoned and self._inner.exception() is None:
            with contextlib.suppress(Exception):  # nobody is left to hear of it
                self._inner.result().close()

    def _next_job(self) -> _Job | None:
        with self._cond:
            self._cond.wait_for(lambda: self._urgent or self._normal or self._closing)
            if self._urgent:
                return self._urgent.popleft()
            if self._normal:
                return self._normal.popleft()
            return None

    def _run(self, job: _Job) -> None:
        try:
            if job.future.set_running_or_notify_cancel():
                error = self._inner.exception()
                if error is not None:
                    raise error
                job.future.set_result(job.call(self._inner.result()))
        except BaseException as exc:
            job.future.set_exception(exc)
            with self._cond:
                # A call that needed a failed call's id raises that same error object.
                if not any(seen is exc for seen in self._errors):
                    self._errors.append(exc)
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()


def _resolve(run: RunRef, timeout: float | None = None) -> str:
    return run.result(timeout) if isinstance(run, Future) else run
