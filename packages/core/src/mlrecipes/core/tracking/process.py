"""The tracker in a process of its own, so that MLflow never slows the orchestrator.

``import mlflow`` takes seconds and SQLAlchemy costs tens of milliseconds of
CPU per run; in the orchestrator's process both would compete (GIL included)
with planning and the scheduler. :class:`ProcessTracker` starts
``python -m mlrecipes.core.tracking._worker`` (which imports MLflow and opens
the store while steps already run) and forwards each :class:`Tracker` call to
it over a pipe, waiting for the answer. Wrap it in a
:class:`~mlrecipes.core.tracking.background.BackgroundTracker` so that callers
wait only for what they need.

The worker ignores SIGINT (the orchestrator decides what an interrupt ends);
when the orchestrator dies, the worker reads EOF and ends its open runs KILLED.
Its stderr (MLflow's warnings, tracebacks) goes to ``log_file``, never to the
user's terminal.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking._client import step_tracking_env
from mlrecipes.core.tracking.base import (
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
)
from mlrecipes.git_sources import redact_text


@dataclass(frozen=True)
class WorkerConfig:
    """What the worker needs to open the store (sent as its first message)."""

    tracking_uri: str
    artifact_root: Path | None
    live_dir: Path | None
    owner_pid: int


class ProcessTracker:
    """A :class:`Tracker` whose calls run in a worker process (see module doc)."""

    def __init__(
        self,
        tracking_uri: str,
        *,
        artifact_root: Path | None = None,
        live_dir: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.log_file = log_file
        self._lock = threading.Lock()
        self._envs: dict[str, dict[str, str]] = {}
        self._proc = _spawn(log_file)
        config = WorkerConfig(tracking_uri, artifact_root, live_dir, os.getpid())
        try:
            self._call("open", config)
        except BaseException:
            self._stop()
            raise

    def start_pipeline(self, info: PipelineInfo) -> str:
        return str(self._call("start_pipeline", info))

    def create_step_run(self, parent_id: str, info: StepInfo) -> str:
        run_id, env = self._call("create_step_run", parent_id, info)
        self._envs[run_id] = env
        return str(run_id)

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        self._call("finish_step", run_id, outcome)

    def log_step_run(self, parent_id: str, info: StepInfo, outcome: StepOutcome) -> str:
        return str(self._call("log_step_run", parent_id, info, outcome))

    def finish_pipeline(
        self, parent_id: str, status: RunStatus, summary: PipelineSummary | None = None
    ) -> None:
        self._call("finish_pipeline", parent_id, status, summary)

    def run_job(self, job: PostRunJob, run_id: str) -> None:
        self._call("run_job", job, run_id)

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> str | None:
        found = self._call("find_finished_pipeline", experiment, fingerprints_hash)
        return str(found) if found is not None else None

    def step_env(self, run_id: str) -> dict[str, str]:
        env = self._envs.get(run_id)
        if env is None:
            return step_tracking_env(self.tracking_uri, run_id)
        return dict(env)

    def close(self) -> None:
        try:
            if self._proc.poll() is None:
                self._call("close")
        finally:
            self._stop()

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            stdin, stdout = self._proc.stdin, self._proc.stdout
            if stdin is None or stdout is None:
                raise self._died(EOFError())
            try:
                pickle.dump((method, args), stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                kind, value = pickle.load(stdout)  # noqa: S301 (our own child, a private pipe)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                raise self._died(exc) from None
        if kind == "ok":
            return value
        if kind == "tracking":
            message, uri, hint = value
            raise TrackingError(message, uri=uri, hint=hint)
        raise RuntimeError(f"the tracking process failed: {value}")

    def _died(self, exc: BaseException) -> TrackingError:
        code = self._proc.poll()
        where = f"; its log is {self.log_file}" if self.log_file else ""
        return TrackingError(
            f"the MLflow tracking process stopped (exit code {code}): {exc.__class__.__name__}",
            uri=redact_text(self.tracking_uri),
            hint=f"run again with -v for details{where}",
        )

    def _stop(self) -> None:
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _spawn(log_file: Path | None) -> subprocess.Popen[bytes]:
    err: IO[bytes] | int = subprocess.DEVNULL
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        err = log_file.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "mlrecipes.core.tracking._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            close_fds=True,
        )
    finally:
        if not isinstance(err, int):
            err.close()
