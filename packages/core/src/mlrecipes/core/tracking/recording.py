"""An in-memory :class:`~mlrecipes.core.tracking.base.Tracker` for unit tests of callers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlrecipes.core.tracking.base import (
    KIND_PIPELINE,
    KIND_STEP,
    TAG_FINGERPRINTS,
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
)


@dataclass
class RecordedRun:
    """One run as the fake saw it; ``status`` is ``RUNNING`` until it ends."""

    run_id: str
    kind: str
    name: str
    experiment: str
    parent_id: str | None = None
    status: str = "RUNNING"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    log_path: Path | None = None
    log_name: str | None = None
    started_at: float | None = None
    finished_at: float | None = None


class RecordingTracker:
    """Records every call; run ids are ``run-1``, ``run-2``, ... in creation order.

    ``calls`` lists ``(method, run_id)`` in call order, which lets tests check the
    order a :class:`~mlrecipes.core.tracking.background.BackgroundTracker` keeps.
    """

    def __init__(self) -> None:
        self.runs: dict[str, RecordedRun] = {}
        self.calls: list[tuple[str, str]] = []
        self.closed = False
        self._lock = threading.Lock()

    def _new_run(self, kind: str, name: str, experiment: str, parent: str | None) -> RecordedRun:
        run = RecordedRun(f"run-{len(self.runs) + 1}", kind, name, experiment, parent)
        self.runs[run.run_id] = run
        return run

    def start_pipeline(self, info: PipelineInfo) -> str:
        with self._lock:
            run = self._new_run(KIND_PIPELINE, info.run_name, info.experiment, None)
            run.tags.update(info.tags)
            run.params.update(info.params)
            run.artifacts.update(info.artifacts)
            run.started_at = info.started_at
            self.calls.append(("start_pipeline", run.run_id))
            return run.run_id

    def create_step_run(self, parent_id: str, info: StepInfo) -> str:
        with self._lock:
            parent = self.runs[parent_id]
            run = self._new_run(KIND_STEP, info.step, parent.experiment, parent_id)
            run.tags.update(info.tags)
            run.params.update(info.params)
            run.started_at = info.started_at
            self.calls.append(("create_step_run", run.run_id))
            return run.run_id

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        with self._lock:
            run = self.runs[run_id]
            run.metrics.update(outcome.metrics)
            run.tags.update(outcome.tags)
            run.log_path = outcome.log_path
            run.log_name = outcome.log_name
            run.finished_at = outcome.finished_at
            run.status = outcome.status
            self.calls.append(("finish_step", run_id))

    def log_step_run(self, parent_id: str, info: StepInfo, outcome: StepOutcome) -> str:
        run_id = self.create_step_run(parent_id, info)
        self.finish_step(run_id, outcome)
        return run_id

    def run_job(self, job: PostRunJob, run_id: str) -> None:
        job(self, run_id)
        with self._lock:
            self.calls.append(("run_job", run_id))

    def finish_pipeline(
        self, parent_id: str, status: RunStatus, summary: PipelineSummary | None = None
    ) -> None:
        with self._lock:
            for run in self.runs.values():
                if run.parent_id == parent_id and run.status == "RUNNING":
                    run.status = "KILLED"
            parent = self.runs[parent_id]
            if summary is not None:
                parent.metrics.update(summary.metrics)
                parent.tags.update(summary.tags)
                parent.params.update(summary.params)
                parent.artifacts.update(summary.artifacts)
                parent.artifacts.update({page.name: page for page in summary.pages})
            parent.status = status
            self.calls.append(("finish_pipeline", parent_id))

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> str | None:
        with self._lock:
            found = [
                run.run_id
                for run in self.runs.values()
                if run.kind == KIND_PIPELINE
                and run.experiment == experiment
                and run.status == "FINISHED"
                and run.tags.get(TAG_FINGERPRINTS) == fingerprints_hash
            ]
            return found[-1] if found else None

    def step_env(self, run_id: str) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": "memory:", "MLFLOW_RUN_ID": run_id}

    def close(self) -> None:
        with self._lock:
            for run in self.runs.values():
                if run.status == "RUNNING":
                    run.status = "KILLED"
            self.closed = True
