"""Executing a plan: the scheduler runs the tasks, the tracker logs every variant.

Each unique fingerprint executes once, in the first variant that has it (its
child run is a cache ``miss``); every other variant logs a ``hit`` child run
pointing at the run that produced the entry, so each parent run is a complete
record. MLflow calls run on the tracker's thread; a step waits only for its
own child run id.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Literal

from mlrecipes.core.events import EventHandler, StepFinished, StepStarted
from mlrecipes.core.executors import Executor
from mlrecipes.core.executors.select import make_executor
from mlrecipes.core.log_follow import LogFollower
from mlrecipes.core.plan import Plan, PlannedStep, Variant
from mlrecipes.core.run_info import pipeline_info, step_info
from mlrecipes.core.run_records import fingerprints_hash, write_finished_run, write_latest
from mlrecipes.core.scheduler import SchedulerEvent, TaskFinished, TaskStarted, run_tasks
from mlrecipes.core.store import Store
from mlrecipes.core.syncing import SyncResult
from mlrecipes.core.task import StepResult, StepTask
from mlrecipes.core.tracking import BackgroundTracker, MlflowTracker, StepOutcome

if TYPE_CHECKING:
    from mlrecipes.core.pipeline import RunOptions
    from mlrecipes.core.team_store import TeamStore
    from mlrecipes.core.workspace import Workspace

Status = Literal["FINISHED", "FAILED", "KILLED"]
_OUTCOME: Mapping[str, Status] = {"ok": "FINISHED", "failed": "FAILED", "killed": "KILLED"}


def default_jobs() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class PipelineExecution:
    """One ``run`` of a plan; :meth:`execute` returns results, status and parent run ids."""

    def __init__(
        self,
        ws: Workspace,
        plan: Plan,
        sync: SyncResult,
        uri: str,
        options: RunOptions,
        on_event: EventHandler,
        *,
        team: TeamStore | None = None,
    ) -> None:
        self.ws = ws
        self.plan = plan
        self.sync = sync
        self.uri = uri
        self.options = options
        self.on_event = on_event
        self.store = Store(ws.paths.store)
        self.to_run = {s.fingerprint: s for s in plan.to_run}
        self.owner: dict[str, int] = {}
        for variant in plan.variants:
            for step in variant.steps:
                self.owner.setdefault(step.fingerprint, variant.index)
        artifacts = ws.paths.mlflow_artifacts
        self.tracker = BackgroundTracker(lambda: MlflowTracker(uri, artifact_root=artifacts))
        self.parents: dict[int, Future[str]] = {}
        self.children: dict[str, Future[str]] = {}
        self.logs = LogFollower(on_event) if options.live_logs else None
        self.executor_kind = "local"
        # Team store: executed steps are uploaded in the background (never waited for
        # until the end of the run).
        self.uploads = team.uploads() if team is not None else None

    def _start_runs(self) -> None:
        self.tracker.wait_ready()  # a tracking server that is down fails here, before any step
        for variant in self.plan.variants:
            scratch = self.ws.paths.state / "tmp" / f"variant-{variant.index}"
            info = pipeline_info(
                variant, self.sync, experiment=self.ws.manifest.experiment, artifacts_dir=scratch
            )
            info = dataclasses.replace(info, tags={**info.tags, **self.options.extra_tags})
            self.parents[variant.index] = self.tracker.start_pipeline(info)
        for fp, step in self.to_run.items():
            child = step_info(step, self.sync.repos, cache="miss")
            self.children[fp] = self.tracker.create_step_run(self.parents[self.owner[fp]], child)

    def _prepare(self, task: StepTask) -> StepTask:
        env = self.tracker.step_env(self.children[task.key])
        return dataclasses.replace(task, env={**task.env, **env})

    def _relay(self, event: SchedulerEvent) -> None:
        if isinstance(event, TaskStarted):
            self.on_event(StepStarted(event.task.step, event.task.key, event.task.label))
            if self.logs is not None:
                self.logs.follow(event.task.key, event.task.step, event.log_path)
        elif isinstance(event, TaskFinished):
            if self.logs is not None:
                self.logs.stop(event.result.key)
            self._finished(event.result)

    def _finished(self, result: StepResult) -> None:
        step = self.to_run[result.key]
        if result.status in _OUTCOME:
            outcome = StepOutcome(
                status=_OUTCOME[result.status],
                metrics=dict(result.metrics),
                log_path=result.log_path,
            )
            self.tracker.finish_step(self.children[result.key], outcome)
        else:  # skipped: an upstream step failed, or the run was interrupted
            self.tracker.finish_step(
                self.children[result.key],
                StepOutcome(status="KILLED", tags={"mlrecipes.skipped": "true"}),
            )
        if result.status == "ok":
            write_latest(self.store.root, step.step, step.components)
            run_id = self.tracker.run_id(self.children[result.key])
            self.store.set_run_id(step.step, step.fingerprint, run_id)
            self._share(step, run_id, result)
        self.on_event(
            StepFinished(
                step=step.step,
                key=result.key,
                status=result.status,
                duration=result.duration,
                metrics=tuple(sorted(result.metrics.items())),
                error=result.error,
                log_path=str(result.log_path) if result.log_path else None,
            )
        )

    def _share(self, step: PlannedStep, run_id: str, result: StepResult) -> None:
        """Team store: queue the upload of a step that executed (returns at once)."""
        if self.uploads is None or result.entry is None:
            return
        from mlrecipes.core.team_store import PublishJob

        job = PublishJob(
            run_id,
            step.step,
            step.fingerprint,
            result.entry,
            result.metrics,
            tuple(step.outputs.values()),
        )
        self.uploads.submit(job)

    def _announce_cached(self) -> None:
        for step in self.plan.unique().values():
            if step.status == "cached":
                record = self.store.read_record(step.step, step.fingerprint)
                metrics = tuple(sorted(record.metrics.items())) if record else ()
                source = self.plan.remote.get(step.fingerprint)
                self.on_event(
                    StepFinished(
                        step.step, step.fingerprint, "cached", 0.0, metrics, source_run=source
                    )
                )

    def _log_variant(self, variant: Variant, results: Mapping[str, StepResult]) -> Status:
        """Hit child runs for what this variant did not execute; the variant's status."""
        status: Status = "FINISHED"
        for step in variant.steps:
            if step.fingerprint in self.to_run and self.owner[step.fingerprint] == variant.index:
                result = results.get(step.fingerprint)
                if result is None or result.status != "ok":
                    status = "FAILED" if status == "FINISHED" else status
                continue
            record = self.store.read_record(step.step, step.fingerprint)
            if record is None:
                status = "FAILED" if status == "FINISHED" else status
                continue
            self._log_hit(variant, step, record.metrics, record.run_id)
        return status

    def _log_hit(
        self, variant: Variant, step: PlannedStep, metrics: Mapping[str, float], source: str | None
    ) -> None:
        remote = step.fingerprint in self.plan.remote  # fetched from the team store
        info = step_info(step, self.sync.repos, cache="remote" if remote else "hit")
        if source:
            info = dataclasses.replace(info, tags={**info.tags, "mlrecipes.source_run_id": source})
        child = self.tracker.create_step_run(self.parents[variant.index], info)
        self.tracker.finish_step(child, StepOutcome(status="FINISHED", metrics=dict(metrics)))

    def _finish_variants(
        self, results: Mapping[str, StepResult], interrupted: bool
    ) -> list[Status]:
        statuses: list[Status] = []
        for variant in self.plan.variants:
            status: Status = "KILLED" if interrupted else self._log_variant(variant, results)
            metrics: dict[str, float] = {}
            for s in variant.steps:
                record = self.store.read_record(s.step, s.fingerprint)
                if record is not None:
                    metrics.update({f"{s.step}.{k}": v for k, v in record.metrics.items()})
            parent = self.parents[variant.index]
            self.tracker.finish_pipeline(parent, status, metrics)
            if status == "FINISHED":
                fp_hash = fingerprints_hash(variant.fingerprints)
                write_finished_run(
                    self.ws.paths.runs, fp_hash, self.uri, self.tracker.run_id(parent)
                )
            statuses.append(status)
        return statuses

    def _make_executor(self) -> Executor:
        """The executor the options or the manifest name, before any run is created."""
        config = self.ws.manifest.executor
        kind = self.executor_kind = self.options.executor or config.kind
        address = self.options.ray_address or config.address
        steps = self.ws.manifest.steps
        return make_executor(
            kind,
            jobs=self.options.jobs or default_jobs(),
            address=address,
            resources_of=lambda task: steps[task.step].resources if task.step in steps else None,
        )

    def _run_tasks(self, executor: Executor) -> tuple[dict[str, StepResult], bool]:
        running = set(self.to_run)
        from mlrecipes.core.pipeline import build_task

        tasks = [build_task(s, self.sync, running) for s in self.to_run.values()]
        for step in self.to_run.values():
            # only a forced step (or one downstream of it) can be complete and still run
            if self.store.is_complete(step.step, step.fingerprint):
                self.store.remove(step.step, step.fingerprint)
        jobs = self.options.jobs or default_jobs()
        if not self.options.jobs and self.executor_kind == "ray":
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
            )
            return {r.key: r for r in found}, False
        except KeyboardInterrupt as exc:
            found = getattr(exc, "results", [])
            return {r.key: r for r in found}, True

    def _end_uploads(self, interrupted: bool) -> None:
        """Team store: wait for the uploads (notices report failures); Ctrl-C drops them."""
        if self.uploads is None:
            return
        if interrupted:
            self.uploads.abandon()
            return
        try:
            self.uploads.wait()
        except KeyboardInterrupt:
            self.uploads.abandon()
            raise

    def execute(self) -> tuple[dict[str, StepResult], Status, tuple[str, ...]]:
        try:
            executor = self._make_executor()
        except BaseException:
            self.tracker.close()
            raise
        try:
            self._start_runs()
            self._announce_cached()
            results, interrupted = self._run_tasks(executor)
            self._end_uploads(interrupted)
            statuses = self._finish_variants(results, interrupted)
            run_ids = tuple(self.tracker.run_id(self.parents[i]) for i in sorted(self.parents))
        finally:
            if self.uploads is not None:
                self.uploads.abandon()  # a no-op after _end_uploads; else (an error) stop them
            if self.logs is not None:
                self.logs.close()
            executor.close()
            self.tracker.close()
        overall: Status = "FINISHED"
        if interrupted:
            overall = "KILLED"
        elif any(s != "FINISHED" for s in statuses):
            overall = "FAILED"
        return results, overall, run_ids
