"""Run step tasks in dependency order on an executor, publishing into the store.

For each task: :meth:`Store.begin` a temp entry, call ``prepare(task)`` (the
caller fills ``task.env``, e.g. the MLflow run id), submit to the executor; on
success check the declared outputs exist and :meth:`Store.publish`, otherwise
:meth:`Store.discard` (logs live outside the entry and survive). Around that,
the task holds the store's claim on its fingerprint: a task whose claim another
process holds (a concurrent run of the workspace) waits for it (a
:class:`TaskWaiting` event), then reuses the entry that process published, or
runs when there is none. A task whose
dependency did not succeed is ``skipped``; independent branches go on. With
``fail_fast`` the first failure cancels everything still running.

Interrupts: SIGINT (``KeyboardInterrupt``) and, while :func:`run_tasks` runs in
the main thread, SIGTERM stop every running step (their temp entries are
discarded, their results ``killed``; steps not started are ``skipped``); a
:class:`TaskFinished` event is emitted for each, then :class:`RunInterrupted`
is raised. It subclasses ``KeyboardInterrupt``, so callers that ignore it
still stop; the CLI catches it, marks the MLflow runs of ``results`` KILLED
and exits 130. A second interrupt during that cleanup skips the grace period.

Events (:class:`TaskStarted`, :class:`TaskFinished`) are emitted from the
thread that called :func:`run_tasks`, one at a time: a handler needs no
locking, but must be quick, since the scheduler waits for it.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeAlias

from filelock import BaseFileLock

from mlrecipes.core.executors.base import Executor, Outcome
from mlrecipes.core.executors.task import StepResult, StepTask
from mlrecipes.core.store.local import EntryRecord, Store


@dataclass(frozen=True)
class TaskStarted:
    """A task was handed to the executor; its output goes to ``log_path``."""

    task: StepTask
    log_path: Path


@dataclass(frozen=True)
class TaskFinished:
    """A task ended (ok, failed or killed) or was skipped."""

    result: StepResult


@dataclass(frozen=True)
class TaskWaiting:
    """Another process is executing this task's fingerprint; its entry will be reused."""

    task: StepTask


SchedulerEvent: TypeAlias = TaskStarted | TaskFinished | TaskWaiting


class RunInterrupted(KeyboardInterrupt):
    """:func:`run_tasks` was interrupted; ``results`` has every task's status."""

    def __init__(self, results: list[StepResult], *, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.results = results
        self.signum = signum


@dataclass
class _Running:
    task: StepTask
    tmp: Path
    log: Path
    started: float  # time.monotonic(), for the duration
    started_at: float  # time.time(), for the record


def run_tasks(
    tasks: Sequence[StepTask],
    *,
    executor: Executor,
    store: Store,
    jobs: int,
    fail_fast: bool = False,
    on_event: Callable[[SchedulerEvent], None] | None = None,
    prepare: Callable[[StepTask], StepTask] | None = None,
    publishing: Callable[[StepTask, Outcome, Path], None] | None = None,
) -> list[StepResult]:
    """Run ``tasks`` (at most ``jobs`` at once); returns one result per task, in order.

    ``publishing(task, outcome, log)`` is called for each step that succeeded, just
    before its entry is published: what must be durable before the entry exists
    (its run's end, in the outbox) is written there.

    Raises :class:`ValueError` for duplicate keys, unknown ``needs`` or a
    cycle, before anything runs, and :class:`RunInterrupted` on SIGINT/SIGTERM.
    """
    run = _Run(tasks, executor, store, max(1, jobs), fail_fast, on_event, prepare, publishing)
    with _sigterm_raises() as received:
        try:
            run.loop()
        except KeyboardInterrupt as exc:
            run.stop_all()
            signum = received[0] if received else signal.SIGINT
            raise RunInterrupted(run.results(), signum=signum) from exc
        except BaseException:
            run.stop_all()  # never leave processes or temp entries behind
            raise
        finally:
            run.waiter.shutdown(wait=True)
    return run.results()


class _Run:
    """The state of one :func:`run_tasks` call."""

    def __init__(
        self,
        tasks: Sequence[StepTask],
        executor: Executor,
        store: Store,
        jobs: int,
        fail_fast: bool,
        on_event: Callable[[SchedulerEvent], None] | None,
        prepare: Callable[[StepTask], StepTask] | None,
        publishing: Callable[[StepTask, Outcome, Path], None] | None = None,
    ) -> None:
        self.tasks = {task.key: task for task in tasks}
        self.order = {task.key: index for index, task in enumerate(tasks)}
        self.unmet, self.dependents = _graph(tasks)
        self.ready = [self.order[k] for k, needs in self.unmet.items() if not needs]
        heapq.heapify(self.ready)
        self.running: dict[Future[Outcome], _Running] = {}
        self.done: dict[str, StepResult] = {}
        self.executor, self.store, self.jobs = executor, store, jobs
        self.fail_fast, self.stopping = fail_fast, False
        self.emit = on_event or (lambda event: None)
        self.prepare, self.publishing = prepare, publishing
        self.launching: Path | None = None  # temp entry of a task between begin and submit
        self.keys = [task.key for task in tasks]
        self.claims: dict[str, BaseFileLock] = {}  # key -> the store's claim this run holds
        self.waiting: dict[Future[BaseFileLock | None], StepTask] = {}
        self.waiter = ThreadPoolExecutor(thread_name_prefix="mlrecipes-claim")
        self.stop_waiting = threading.Event()

    def results(self) -> list[StepResult]:
        return [self.done[key] for key in self.keys]

    def loop(self) -> None:
        while self.running or self.waiting or (self.ready and not self.stopping):
            while self.ready and len(self.running) < self.jobs and not self.stopping:
                key = self.keys[heapq.heappop(self.ready)]
                if key not in self.done:
                    self.launch(self.tasks[key])
            if self.running or self.waiting:
                pending: list[Future[Any]] = [*self.running, *self.waiting]
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    self.settle(future)
        self.skip_rest("not run: an earlier step failed and fail-fast is on")

    def settle(self, future: Future[Any]) -> None:
        if future in self.waiting:
            self.resume(self.waiting.pop(future), future.result())
        else:
            self.finish(future)

    def launch(self, task: StepTask) -> None:
        if task.unavailable is not None:
            self.record(StepResult(task.key, task.step, "failed", error=task.unavailable))
            return
        claim = self.store.claim(task.step, task.fingerprint)
        if claim is None:  # another process executes it: wait in a thread, then reuse
            self.emit(TaskWaiting(task))
            self.waiting[self.waiter.submit(self.wait_claim, task)] = task
            return
        self.resume(task, claim)

    def wait_claim(self, task: StepTask) -> BaseFileLock | None:
        """The claim on ``task`` once the other process let go; None when stopping."""
        while not self.stop_waiting.is_set():
            claim = self.store.claim(task.step, task.fingerprint, timeout=0.5)
            if claim is not None:
                return claim
        return None

    def resume(self, task: StepTask, claim: BaseFileLock | None) -> None:
        """Holding ``claim``: reuse the entry another process published, else start."""
        if claim is None or self.stopping:
            if claim is not None:
                claim.release()
            return  # recorded as skipped by the caller of the loop
        record = self.store.read_record(task.step, task.fingerprint)
        if record is not None:
            claim.release()
            entry = self.store.entry(task.step, task.fingerprint)
            metrics = dict(record.metrics)
            self.record(StepResult(task.key, task.step, "ok", metrics, entry, reused=True))
            return
        self.claims[task.key] = claim
        self.start(task)

    def start(self, task: StepTask) -> None:
        started = time.monotonic()
        tmp = self.launching = self.store.begin(task.step, task.fingerprint)
        try:
            if self.prepare is not None:
                task = self.prepare(task)
            log = self.store.log_path(task.step, task.fingerprint)
            self.emit(TaskStarted(task, log))
            future = self.executor.submit(task, tmp_entry=tmp, log_path=log)
        except Exception as exc:
            self.store.discard(tmp)
            self.launching = None
            self.release(task.key)
            self.record(StepResult(task.key, task.step, "failed", error=f"could not start: {exc}"))
            return
        self.running[future] = _Running(task, tmp, log, started, time.time())
        self.launching = None

    def finish(self, future: Future[Outcome]) -> None:
        job = self.running.pop(future)
        task = job.task
        try:
            outcome = future.result()
        except Exception as exc:  # executors report failures as outcomes; this is a bug
            outcome = Outcome("failed", error=f"internal error in the executor: {exc!r}")
        if outcome.status == "ok":
            outcome = _check_outputs(task, job.tmp, outcome)
        entry = None
        if outcome.status == "ok" and self.publishing is not None:
            self.publishing(task, outcome, job.log)
        if outcome.status == "ok":
            record = EntryRecord(
                step=task.step,
                fingerprint=task.fingerprint,
                metrics=outcome.metrics,
                outputs=tuple(task.outputs),
                label=task.display,
                started_at=job.started_at,
                finished_at=time.time(),
                code=outcome.code,
                code_key=task.code_key,
            )
            entry = self.store.publish(job.tmp, task.step, task.fingerprint, record)
        else:
            self.store.discard(job.tmp)
        self.release(task.key)
        duration = time.monotonic() - job.started
        result = StepResult(
            task.key, task.step, outcome.status, outcome.metrics, entry, job.log, duration,
            outcome.error,
        )  # fmt: skip
        self.record(result)

    def release(self, key: str) -> None:
        claim = self.claims.pop(key, None)
        if claim is not None:
            claim.release()

    def record(self, result: StepResult) -> None:
        """Store ``result``, emit it, and release or skip the tasks that need it."""
        self.done[result.key] = result
        self.emit(TaskFinished(result))
        if result.status == "ok":
            for key in self.dependents[result.key]:
                self.unmet[key].discard(result.key)
                if not self.unmet[key] and key not in self.done:
                    heapq.heappush(self.ready, self.order[key])
            return
        for key in self.dependents[result.key]:
            if key not in self.done:
                why = f"upstream step {self.tasks[result.key].display!r} {result.status}"
                self.record(StepResult(key, self.tasks[key].step, "skipped", error=why))
        if self.fail_fast and result.status == "failed" and not self.stopping:
            self.stopping = True
            self.executor.cancel_all()

    def _running_keys(self) -> set[str]:
        return {job.task.key for job in self.running.values()}

    def skip_rest(self, why: str) -> None:
        for key in self.keys:
            running = any(job.task.key == key for job in self.running.values())
            if key not in self.done and not running:
                self.record(StepResult(key, self.tasks[key].step, "skipped", error=why))

    def stop_all(self) -> None:
        """Cancel running steps, wait for them, record the rest as skipped."""
        self.stopping = True
        self.stop_waiting.set()
        if self.launching is not None:
            self.store.discard(self.launching)
            self.launching = None
        for key in [key for key in self.claims if key not in self._running_keys()]:
            self.release(key)
        for waiter in list(self.waiting):
            self.resume(self.waiting.pop(waiter), waiter.result())
        self.executor.cancel_all()
        while self.running:
            try:
                finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                self.executor.cancel_all()  # a second interrupt: no grace period
                continue
            for future in finished:
                self.finish(future)
        self.skip_rest("not run: the run was interrupted")


def _graph(tasks: Sequence[StepTask]) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """(unmet needs, dependents) of each key; rejects duplicates, unknown needs, cycles."""
    unmet: dict[str, set[str]] = {}
    for task in tasks:
        if task.key in unmet:
            raise ValueError(f"duplicate task key {task.key!r}")
        unmet[task.key] = set(task.needs)
    dependents: dict[str, list[str]] = {key: [] for key in unmet}
    for task in tasks:
        for need in task.needs:
            if need not in unmet:
                raise ValueError(f"task {task.key!r} needs unknown task {need!r}")
            dependents[need].append(task.key)
    remaining = {key: len(needs) for key, needs in unmet.items()}
    queue = [key for key, count in remaining.items() if count == 0]
    while queue:
        for dependent in dependents[queue.pop()]:
            remaining[dependent] -= 1
            if remaining[dependent] == 0:
                queue.append(dependent)
    if cyclic := sorted(key for key, count in remaining.items() if count > 0):
        raise ValueError(f"tasks form a cycle: {', '.join(cyclic)}")
    return unmet, dependents


def _check_outputs(task: StepTask, tmp: Path, outcome: Outcome) -> Outcome:
    missing = [name for name, rel in task.outputs.items() if not os.path.lexists(tmp / rel)]
    if not missing:
        return outcome
    names = ", ".join(repr(name) for name in missing)
    return Outcome(
        "failed",
        error=f"step {task.display!r} returned without writing its output(s) {names}",
    )


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[list[int]]:
    """While active (main thread only), SIGTERM raises KeyboardInterrupt like SIGINT."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)
