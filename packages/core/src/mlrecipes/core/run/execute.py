"""Executing a plan: the scheduler runs the tasks, the tracker logs them as they go.

Each unique fingerprint executes once, in the first variant that has it. Steps
never wait for MLflow: each tracking call is an event in the durable outbox,
delivered by the warm tracker (:mod:`mlrecipes.core.tracking.warm`), and an
executed step's child run is created (an outbox event) as the step starts and
ended when it ends. Only a step whose environment has MLflow (it may log to
its run itself) waits for its run to be in MLflow before it starts. Steps taken from
the store get no child run: each parent run records every step of its variant
(fingerprint, ``hit``/``miss``, source run, metrics) when it ends. The command
returns once every event is durable (in CI and with ``wait``: once MLflow holds
them); a run is never left RUNNING, even after a kill (the outbox ends it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

from mlrecipes.core.envs.probe import has_mlflow
from mlrecipes.core.errors import StoreError, TrackingError
from mlrecipes.core.events import EventHandler, StepFinished, StepStarted, StepWaiting
from mlrecipes.core.executors import Executor
from mlrecipes.core.executors.base import Outcome
from mlrecipes.core.executors.task import StepResult, StepTask
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.plan.planner import Plan, PlannedStep, Variant
from mlrecipes.core.plan.records import fingerprints_hash, write_finished_run, write_latest
from mlrecipes.core.run.code_notes import code_reason, code_tags, upload_record, write_record
from mlrecipes.core.run.compose import RunServices, default_jobs
from mlrecipes.core.run.info import (
    StepRecord,
    pipeline_info,
    step_info,
    variant_summary,
    workspace_source,
)
from mlrecipes.core.run.log_follow import LogFollower
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.run.outputs import link_declared_outputs
from mlrecipes.core.run.page import run_box, write_run_page
from mlrecipes.core.run.scheduler import (
    SchedulerEvent,
    TaskFinished,
    TaskStarted,
    TaskWaiting,
    run_tasks,
)
from mlrecipes.core.run.tasks import build_task
from mlrecipes.core.store.local import Store
from mlrecipes.core.sync.workspace_sync import SyncResult
from mlrecipes.core.tracking import sanitize_metrics
from mlrecipes.core.tracking.background import BackgroundTracker
from mlrecipes.core.tracking.base import TAG_SKIPPED, CacheStatus, StepOutcome, step_metric_key
from mlrecipes.core.tracking.outbox import RunIds

Status = Literal["FINISHED", "FAILED", "KILLED"]
_OUTCOME: Mapping[str, Status] = {"ok": "FINISHED", "failed": "FAILED", "killed": "KILLED"}
_END_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Execution:
    """What :meth:`PipelineExecution.execute` came to."""

    results: dict[str, StepResult]
    status: Status
    run_ids: tuple[str, ...]
    tracking_error: TrackingError | None = None
    link_error: StoreError | None = None  # a declared place could not take its output


class PipelineExecution:
    """One ``run`` of a plan (see module doc)."""

    def __init__(
        self,
        plan: Plan,
        sync: SyncResult,
        *,
        manifest: Manifest,
        paths: WorkspacePaths,
        uri: str,
        options: RunOptions,
        services: RunServices,
        on_event: EventHandler,
    ) -> None:
        self.plan, self.sync, self.manifest, self.paths = plan, sync, manifest, paths
        self.uri, self.options, self.services, self.on_event = uri, options, services, on_event
        self.store = Store(paths.store)
        self.to_run = {s.fingerprint: s for s in plan.to_run}
        self.owner: dict[str, int] = {}
        for variant in plan.variants:
            for step in variant.steps:
                self.owner.setdefault(step.fingerprint, variant.index)
        self.parents: dict[int, Future[str]] = {}
        self.children: dict[str, Future[str]] = {}  # runs of executed steps
        self.ahead: set[str] = set()  # steps that get their run's id in their environment
        self.ended: set[str] = set()  # steps whose run's end is told already
        self.started: dict[str, float] = {}
        self.logs = LogFollower(on_event) if options.live_logs else None
        self.tracker: BackgroundTracker | None = None
        self.post_jobs: list[Future[None]] = []  # after_step jobs queued on the tracker

    @property
    def _tracker(self) -> BackgroundTracker:
        if self.tracker is None:
            raise RuntimeError("the tracker is used before execute() made it")
        return self.tracker

    def _scratch(self, variant: Variant) -> Path:
        return self.paths.tmp / f"variant-{variant.index}"

    def _start_runs(self) -> None:
        now = time.time()
        source = workspace_source(self.manifest)
        for variant in self.plan.variants:
            info = pipeline_info(
                variant,
                self.sync,
                experiment=self.manifest.experiment,
                artifacts_dir=self._scratch(variant),
                started_at=now,
                source=source,
            )
            info = dataclasses.replace(info, tags={**info.tags, **self.options.extra_tags})
            self.parents[variant.index] = self._tracker.start_pipeline(info)
        for fp, step in self.to_run.items():  # DAG order
            ctx = self.sync.repos.get(step.repo)  # None: its environment failed to build
            ahead = self.services.runs_ahead  # store mode: the node publishes into the run
            if ctx is not None and (ahead or has_mlflow(ctx.env.path, ctx.source.project_dir)):
                child = step_info(step, self.manifest, self.sync.repos, started_at=now)
                parent = self.parents[self.owner[fp]]
                self.children[fp] = self._tracker.create_step_run(parent, child)
                self.ahead.add(fp)

    def _prepare(self, task: StepTask) -> StepTask:
        self.started[task.key] = time.time()
        if task.key not in self.children:
            # Its run is an outbox event before the step starts: a kill at any moment
            # after this leaves a run in MLflow (ended KILLED) for its store entry.
            step = self.to_run[task.key]
            info = step_info(step, self.manifest, self.sync.repos, started_at=time.time())
            parent = self.parents[self.owner[task.key]]
            self.children[task.key] = self._tracker.create_step_run(parent, info)
        if task.key not in self.ahead:
            return task
        try:
            env = self._tracker.step_env(self.children[task.key])
        except Exception:
            # Its run is not in MLflow (the store is down): the step runs without its
            # id, and its run gets its outcome from the outbox later.
            return task
        return dataclasses.replace(task, env={**task.env, **env})

    def _relay(self, event: SchedulerEvent) -> None:
        if isinstance(event, TaskStarted):
            self.on_event(StepStarted(event.task.step, event.task.key, event.task.label))
            if self.logs is not None:
                self.logs.follow(event.task.key, event.task.step, event.log_path)
        elif isinstance(event, TaskWaiting):
            self.on_event(StepWaiting(event.task.step, event.task.key, event.task.label))
        elif isinstance(event, TaskFinished):
            if self.logs is not None:
                self.logs.stop(event.result.key)
            self._finished(event.result)

    def _outcome(self, result: StepResult) -> StepOutcome:
        record = self.store.read_record(result.step, result.key) if result.ok else None
        code = record.code if record is not None else None
        return self._step_outcome(result.key, result.status, result.metrics, result.log_path, code)

    def _step_outcome(
        self,
        key: str,
        status: str,
        raw: Mapping[str, float],
        log: Path | None,
        code: Mapping[str, Any] | None,
    ) -> StepOutcome:
        step = self.to_run[key]
        metrics, renamed = sanitize_metrics(raw)
        if renamed and log is not None:
            keys = {old: step_metric_key(step.step, new) for old, new in renamed.items()}
            _note_renamed(log, keys)
        return StepOutcome(
            status=_OUTCOME[status],
            # the parent's key too (DESIGN.md, "In MLflow"): one column fills for both
            metrics={step_metric_key(step.step, k): v for k, v in metrics.items()},
            tags=code_tags(step, code) if status == "ok" else {},
            log_path=log,
            log_name=f"{step.step}.log",
            finished_at=time.time(),
        )

    def _publishing(self, task: StepTask, outcome: Outcome, log: Path) -> None:
        """A step succeeded: its run's end is durable before its store entry exists, so a
        kill between the two loses neither (the outbox applies it once the entry exists).

        Steps never wait for a tracker still starting: its end then follows the entry."""
        run = self.children.get(task.key)
        if run is None or not self._tracker.ready:
            return
        ended = self._step_outcome(task.key, "ok", outcome.metrics, log, outcome.code)
        ended = dataclasses.replace(ended, kept=self.store.entry(task.step, task.fingerprint))
        told = self._tracker.finish_step(run, ended)
        self.ended.add(task.key)
        with contextlib.suppress(Exception):  # a failure comes back when the tracker closes
            told.result(timeout=_END_TIMEOUT)  # an append and its fsync: milliseconds

    def _finished(self, result: StepResult) -> None:
        step = self.to_run[result.key]
        if result.reused:
            self._reused(result)
            return
        if result.key in self.ended:
            pass  # its end was told before its entry was published (_publishing)
        elif result.status in _OUTCOME:
            outcome = self._outcome(result)
            if result.key in self.children:
                self._tracker.finish_step(self.children[result.key], outcome)
            else:
                info = step_info(
                    step, self.manifest, self.sync.repos, started_at=self.started.get(result.key)
                )
                parent = self.parents[self.owner[result.key]]
                self.children[result.key] = self._tracker.log_step_run(parent, info, outcome)
        elif result.key in self.children:  # skipped: its run was made for nothing
            outcome = StepOutcome(status="KILLED", tags={TAG_SKIPPED: "true"})
            self._tracker.finish_step(self.children[result.key], outcome)
        if result.status == "ok":
            write_latest(self.store.root, step.step, step.components)
            self._upload_code_record(result)
            job = self.services.after_step(result) if self.services.after_step else None
            if job is not None:
                self.post_jobs.append(self._tracker.after_run(self.children[result.key], job))
        self.on_event(
            StepFinished(
                step=step.step,
                key=result.key,
                status=result.status,
                duration=result.duration,
                metrics=tuple(sorted(result.metrics.items())),
                code_note=code_reason(step),
                error=result.error,
                log_path=str(result.log_path) if result.log_path else None,
            )
        )

    def _reused(self, result: StepResult) -> None:
        """Executed by a concurrent run meanwhile: like a store hit, with no run of its own."""
        if result.key in self.children:  # its run was made ahead for nothing
            outcome = StepOutcome(status="KILLED", tags={TAG_SKIPPED: "true"})
            self._tracker.finish_step(self.children.pop(result.key), outcome)
        step = self.to_run[result.key]
        write_latest(self.store.root, step.step, step.components)
        metrics = tuple(sorted(result.metrics.items()))
        self.on_event(StepFinished(step.step, result.key, "cached", 0.0, metrics))

    def _upload_code_record(self, result: StepResult) -> None:
        """Queue the step's code record as an artifact of its run (after its logging)."""
        record = self.store.read_record(result.step, result.key)
        if record is None or record.code is None or result.log_path is None:
            return
        try:
            path = write_record(record.code, result.log_path)
        except OSError:
            return  # the record stays in the store entry; only the artifact is lost
        self.post_jobs.append(
            self._tracker.after_run(self.children[result.key], upload_record(path))
        )

    def _announce_cached(self) -> None:
        for step in self.plan.unique().values():
            if step.status == "cached":
                record = self.store.read_record(step.step, step.fingerprint)
                metrics = tuple(sorted(record.metrics.items())) if record else ()
                source = self.plan.remote.get(step.fingerprint)  # from the team store
                event = StepFinished(
                    step.step, step.fingerprint, "cached", 0.0, metrics,
                    code_note=code_reason(step),
                )  # fmt: skip
                self.on_event(dataclasses.replace(event, source_run=source))

    def _record_of(
        self, variant: Variant, step: PlannedStep, results: Mapping[str, StepResult]
    ) -> StepRecord:
        fp = step.fingerprint
        if fp in self.to_run:
            result = results.get(fp)
            if result is None or result.status != "ok":
                return StepRecord(step.step, fp, None, None, {})
            if result.reused:
                record = self.store.read_record(step.step, fp)
                source = record.run_id if record else None
                return StepRecord(step.step, fp, "hit", source, dict(result.metrics))
            cache: CacheStatus = "miss" if self.owner[fp] == variant.index else "hit"
            source = _resolved(self.children.get(fp))
            return StepRecord(step.step, fp, cache, source, dict(result.metrics))
        record = self.store.read_record(step.step, fp)
        if record is None:
            return StepRecord(step.step, fp, None, None, {})
        cached: CacheStatus = "remote" if fp in self.plan.remote else "hit"  # team store
        return StepRecord(step.step, fp, cached, record.run_id, dict(record.metrics))

    def _link_outputs(self) -> StoreError | None:
        """Link the declared places before the runs end, so a place taken meanwhile
        fails the run it belongs to (the last variant's, whose outputs they show)."""
        try:
            link_declared_outputs(self.store, self.plan.variants[-1].steps, self.paths.root)
        except StoreError as exc:
            return exc
        return None

    def _page(
        self, variant: Variant, records: list[StepRecord], results: Mapping[str, StepResult]
    ) -> Path:
        """Write the variant's ``pipeline.html`` (see :mod:`mlrecipes.core.run.page`)."""
        boxes = []
        for step, record in zip(variant.steps, records, strict=True):
            result = results.get(step.fingerprint) if step.fingerprint in self.to_run else None
            failed_run = _resolved(self.children.get(step.fingerprint))
            boxes.append(run_box(step, record, result, self.sync.repos, failed_run))
        return write_run_page(variant, boxes, self._scratch(variant))

    def _finish_variants(
        self, results: Mapping[str, StepResult], interrupted: bool, link_failed: bool = False
    ) -> dict[int, tuple[Status, Future[None]]]:
        finished: dict[int, tuple[Status, Future[None]]] = {}
        last = self.plan.variants[-1].index
        for variant in self.plan.variants:
            records = [self._record_of(variant, s, results) for s in variant.steps]
            page = self._page(variant, records, results)
            status: Status = "FINISHED"
            if interrupted:
                status = "KILLED"
            elif any(r.cache is None for r in records) or (link_failed and variant.index == last):
                status = "FAILED"
            summary = variant_summary(records, self._scratch(variant))
            summary = dataclasses.replace(summary, pages=(page,))
            future = self._tracker.finish_pipeline(self.parents[variant.index], status, summary)
            finished[variant.index] = (status, future)
        return finished

    def _run_tasks(self, executor: Executor) -> tuple[dict[str, StepResult], bool]:
        running = set(self.to_run)
        tasks = [build_task(s, self.sync, running) for s in self.to_run.values()]
        for step in self.to_run.values():
            # only a forced step (or one downstream of it) can be complete and still run
            if self.store.is_complete(step.step, step.fingerprint):
                self.store.remove(step.step, step.fingerprint)
        jobs = self.options.jobs or default_jobs()
        if not self.options.jobs and self.services.executor_kind == "ray":
            jobs = max(1, len(tasks))  # the cluster's resources limit what runs at once
        try:
            found = run_tasks(
                tasks,
                executor=executor,
                store=self.store,
                jobs=jobs,
                fail_fast=self.options.fail_fast,
                on_event=self._relay,
                prepare=self._prepare,
                publishing=self._publishing,
            )
            return {r.key: r for r in found}, False
        except KeyboardInterrupt as exc:
            found = getattr(exc, "results", [])
            return {r.key: r for r in found}, True

    def _record_locally(
        self,
        results: Mapping[str, StepResult],
        finished: Mapping[int, tuple[Status, Future[None]]],
        complete: bool,
    ) -> None:
        """Once logged: which run made each entry, and (``complete``: nothing failed to
        log) which pipelines are up to date; an incomplete record is logged again."""
        ids = RunIds(self.paths.outbox)  # MLflow's ids where delivered already
        for key, result in results.items():
            run_id = _resolved(self.children.get(key))
            run_id = ids.resolve(run_id) if run_id else None
            if result.status == "ok" and not result.reused and run_id is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.store.set_run_id(result.step, key, run_id)
        for variant in self.plan.variants:
            status, future = finished.get(variant.index, ("KILLED", None))
            parent = _resolved(self.parents.get(variant.index))
            parent = ids.resolve(parent) if parent else None
            if complete and status == "FINISHED" and parent and future and _ok(future):
                fp_hash = fingerprints_hash(variant.fingerprints)
                write_finished_run(self.paths.runs, fp_hash, self.uri, parent)

    def execute(self) -> Execution:
        executor = self.services.executor()  # a bad executor fails before any run exists
        try:
            self.tracker = self.services.tracker(self.uri)
        except BaseException:
            executor.close()
            raise
        finished: dict[int, tuple[Status, Future[None]]] = {}
        results: dict[str, StepResult] = {}
        interrupted = False
        link_error: StoreError | None = None
        try:
            self._start_runs()
            self._announce_cached()
            results, interrupted = self._run_tasks(executor)
            if interrupted:  # Ctrl-C: post-run jobs not started yet (uploads) are dropped
                for job in self.post_jobs:
                    job.cancel()
            link_error = self._link_outputs()
            finished = self._finish_variants(results, interrupted, link_error is not None)
        except BaseException:
            self._tracker.abort()
            raise
        finally:
            if self.logs is not None:
                self.logs.close()
            executor.close()
        error = self._wait_for_tracking()
        self._record_locally(results, finished, complete=error is None)
        ids = RunIds(self.paths.outbox)
        run_ids = tuple(
            ids.resolve(run_id)
            for i in sorted(self.parents)
            if (run_id := _resolved(self.parents[i]))
        )
        overall: Status = "FINISHED"
        if interrupted:
            overall = "KILLED"
        elif any(status != "FINISHED" for status, _ in finished.values()):
            overall = "FAILED"
        return Execution(results, overall, run_ids, error, link_error)

    def _wait_for_tracking(self) -> TrackingError | None:
        """Wait until everything is logged; a second Ctrl-C ends the open runs KILLED."""
        try:
            self._tracker.close()
        except KeyboardInterrupt:
            self._tracker.abort()
            raise
        except TrackingError as exc:
            return exc
        return None


def _resolved(future: Future[str] | None) -> str | None:
    """The id of a run whose creation was queued; None if it failed or never ran."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception:
        return None


def _ok(future: Future[None]) -> bool:
    try:
        future.result()
    except Exception:
        return False
    return True


def _note_renamed(log_path: Path, renamed: Mapping[str, str]) -> None:
    """Say in the step's log which metrics MLflow would refuse, and where they went."""
    lines = [
        f"mlrecipes: metric {old!r} is logged to MLflow as {new!r} (MLflow refuses that name)\n"
        for old, new in renamed.items()
    ]
    with contextlib.suppress(OSError), log_path.open("a", encoding="utf-8") as fh:
        fh.writelines(lines)
