"""The real tracker: MLflow through ``MlflowClient`` only.

Never the fluent API (``mlflow.start_run``): its active-run stack is global state
that parallel steps and sweeps would share. Every run is ended explicitly with
``set_terminated`` and its status, and runs this tracker opened are never left
RUNNING: ``finish_pipeline`` ends open children, ``close`` ends open parents.

An instance is not thread-safe; with a sqlite store, create and use it on one
thread (``BackgroundTracker`` does).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.paths import MLFLOW_ARTIFACTS
from mlrecipes.core.tracking import _client, _limits
from mlrecipes.core.tracking.base import (
    ARTIFACTS_DIR,
    EXPERIMENT_KIND,
    KIND_PIPELINE,
    KIND_STEP,
    TAG_EXPERIMENT_KIND,
    TAG_FINGERPRINTS,
    TAG_KIND,
    TAG_LOCAL_ID,
    TAG_NOTE,
    TAG_PARENT,
    TAG_RUN_NAME,
    TAG_STEP,
    TERMINAL_STATUSES,
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
)
from mlrecipes.git_sources import redact_text


class MlflowTracker:
    """Logs pipeline runs to the MLflow store at ``tracking_uri``.

    ``artifact_root`` is where new experiments keep their artifacts when the store
    is local (sqlite, a database): MLflow's default there is ``./mlruns`` of the
    current folder. It defaults to ``mlartifacts/`` next to a sqlite database. With
    an ``http(s)://`` server the server decides. The connection is checked here,
    so a server that is down fails in seconds with a :class:`TrackingError`.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        artifact_root: Path | None = None,
        check: bool = True,
    ) -> None:
        self.tracking_uri = tracking_uri
        self._artifact_root = artifact_root
        self._client: Any = _client.make_client(tracking_uri)
        self._experiments: dict[str, str] = {}
        self._experiment_of_run: dict[str, str] = {}
        self._artifact_uris: dict[str, str] = {}
        self._pending_params: dict[str, dict[str, str]] = {}
        self._open_children: dict[str, set[str]] = {}
        self.find_existing = False
        """Look a run up by its local id (tag) before creating it: a delivery redone."""
        if check:
            self.check_connection()

    @property
    def client(self) -> Any:
        """The ``MlflowClient``, for jobs queued with :meth:`run_job`."""
        return self._client

    def check_connection(self) -> None:
        """Raise :class:`TrackingError` (in seconds) when the store cannot be reached."""
        _client.check_connection(self._client, self.tracking_uri)

    def start_pipeline(self, info: PipelineInfo) -> str:
        with self._errors("start the pipeline run"):
            experiment_id = self._ensure_experiment(info.experiment)
            # a pipeline run unless its tags say otherwise (a study's run)
            tags = {TAG_KIND: KIND_PIPELINE, **info.tags}
            run_id = self._create_run(experiment_id, info.run_name, tags, info.started_at)
            self._open_children[run_id] = set()
        try:
            with self._errors("log the pipeline run"):
                self._log(run_id, params=_limits.flatten_params(info.params))
                self._log_artifacts(run_id, info.artifacts)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                self.finish_pipeline(run_id, "FAILED")
            raise
        return run_id

    def create_step_run(self, parent_id: str, info: StepInfo) -> str:
        with self._errors(f"create the run of step {info.step!r}"):
            experiment_id = self._experiment_of_run.get(parent_id)
            if experiment_id is None:
                experiment_id = self._client.get_run(parent_id).info.experiment_id
            tags = {**info.tags, TAG_KIND: KIND_STEP, TAG_STEP: info.step, TAG_PARENT: parent_id}
            run_id = self._create_run(experiment_id, info.step, tags, info.started_at)
            self._open_children.setdefault(parent_id, set()).add(run_id)
            # Logged with the outcome, in one batch: one store call less per step.
            self._pending_params[run_id] = _limits.flatten_params(info.params)
        return run_id

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        with self._errors("finish a step run"):
            try:
                params = self._pending_params.pop(run_id, {})
                self._log(
                    run_id,
                    metrics=outcome.metrics,
                    params=params,
                    tags=outcome.tags,
                    at=outcome.finished_at,
                )
                self._log_step_log(run_id, outcome)
            finally:
                self._terminate(run_id, outcome.status, outcome.finished_at)

    def log_step_run(self, parent_id: str, info: StepInfo, outcome: StepOutcome) -> str:
        run_id = self.create_step_run(parent_id, info)
        self.finish_step(run_id, outcome)
        return run_id

    def finish_pipeline(
        self,
        parent_id: str,
        status: RunStatus,
        summary: PipelineSummary | None = None,
        ended_at: float | None = None,
    ) -> None:
        """See :class:`Tracker`; ``ended_at`` (default: now) also dates the summary's metrics."""
        with self._errors("finish the pipeline run"):
            try:
                # Runs created ahead for steps that never started must not stay RUNNING.
                for child in sorted(self._open_children.get(parent_id, ())):
                    self._terminate(child, "KILLED")
                if summary is not None:
                    params = _limits.flatten_params(summary.params)
                    self._log(
                        parent_id,
                        metrics=summary.metrics,
                        params=params,
                        tags=summary.tags,
                        at=ended_at,
                    )
                    self._log_artifacts(parent_id, summary.artifacts)
                    for page in summary.pages:
                        self._client.log_artifact(parent_id, str(page))
            finally:
                self._terminate(parent_id, status, ended_at)
                self._open_children.pop(parent_id, None)

    def expect_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log ``params`` with the run's outcome (a run created by another process)."""
        self._pending_params[run_id] = _limits.flatten_params(params)

    def end_run(self, run_id: str, status: RunStatus, note: str | None = None) -> None:
        """End a run this instance may not have created, tagged with ``note`` (why)."""
        with self._errors("end a run"):
            if note:
                self._client.set_tag(run_id, TAG_NOTE, note)
            self._terminate(run_id, status)

    def run_job(self, job: PostRunJob, run_id: str) -> None:
        with self._errors(f"run a job after run {run_id}"):
            job(self, run_id)

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> str | None:
        with self._errors("search pipeline runs"):
            experiment_id = self.experiment_id(experiment, create=False)
            if experiment_id is None:
                return None
            found = self._client.search_runs(
                [experiment_id],
                filter_string=(
                    f"tags.`{TAG_KIND}` = '{KIND_PIPELINE}'"
                    f" AND tags.`{TAG_FINGERPRINTS}` = {quote(fingerprints_hash)}"
                    " AND attributes.status = 'FINISHED'"
                ),
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            return str(found[0].info.run_id) if found else None

    def step_env(self, run_id: str) -> dict[str, str]:
        env = _client.step_tracking_env(self.tracking_uri, run_id)
        # The id, not the name: steps creating an experiment by name in parallel race.
        experiment_id = self._experiment_of_run.get(run_id)
        if experiment_id is not None:
            env["MLFLOW_EXPERIMENT_ID"] = experiment_id
        return env

    def close(self, note: str | None = None) -> None:
        """End the runs still open as KILLED, tagged with ``note`` (why) when given."""
        for parent_id in sorted(self._open_children):
            if note:
                for run_id in sorted({parent_id, *self._open_children[parent_id]}):
                    with contextlib.suppress(Exception):  # ending the run matters more
                        self._client.set_tag(run_id, TAG_NOTE, note)
            self.finish_pipeline(parent_id, "KILLED")

    def experiment_id(self, name: str, *, create: bool) -> str | None:
        """The id of experiment ``name``; created when missing and ``create`` is set."""
        if name in self._experiments:
            return self._experiments[name]
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None and create:
            experiment = self._create_experiment(name)
        if experiment is None:
            return None
        if experiment.lifecycle_stage == "deleted":
            raise TrackingError(
                f"MLflow experiment {name!r} is deleted",
                uri=redact_text(self.tracking_uri),
                hint=f"restore it (`mlflow experiments restore --experiment-id "
                f"{experiment.experiment_id}`) or set mlflow.experiment in workspace.yaml",
            )
        self._experiments[name] = str(experiment.experiment_id)
        return self._experiments[name]

    def _ensure_experiment(self, name: str) -> str:
        experiment_id = self.experiment_id(name, create=True)
        if experiment_id is None:
            raise TrackingError(
                f"could not create MLflow experiment {name!r}",
                uri=redact_text(self.tracking_uri),
            )
        return experiment_id

    def _create_experiment(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            # A model-development experiment: the UI opens on its runs, not on traces.
            self._client.create_experiment(
                name,
                artifact_location=self._artifact_location(),
                tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND},
            )
        except MlflowException:
            # Another process may have created it between our get and create: take theirs.
            experiment = self._client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment
        return self._client.get_experiment_by_name(name)

    def _artifact_location(self) -> str | None:
        if _client.is_remote(self.tracking_uri):
            return None
        root = self._artifact_root
        db = _client.sqlite_path(self.tracking_uri)
        if root is None and db is not None:
            root = db.parent / MLFLOW_ARTIFACTS
        return root.resolve().as_uri() if root is not None else None

    def _create_run(
        self, experiment_id: str, name: str, tags: Mapping[str, str], started_at: float | None
    ) -> str:
        # MLflow rejects a runName tag that differs from run_name: the name wins.
        tags = {k: v for k, v in tags.items() if k != TAG_RUN_NAME}
        run = self._existing_run(experiment_id, tags.get(TAG_LOCAL_ID))
        if run is None:
            run = self._client.create_run(
                experiment_id,
                start_time=_ms(started_at),
                run_name=name,
                tags=_limits.clip_tags(tags),
            )
        run_id = str(run.info.run_id)
        self._experiment_of_run[run_id] = experiment_id
        self._artifact_uris[run_id] = str(run.info.artifact_uri)
        return run_id

    def _existing_run(self, experiment_id: str, local_id: str | None) -> Any:
        """The run already created for ``local_id`` by a delivery cut short, if any."""
        if not local_id or not self.find_existing:
            return None
        from mlflow.entities import ViewType

        found = self._client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{TAG_LOCAL_ID}` = {quote(local_id)}",
            run_view_type=ViewType.ALL,
            max_results=1,
        )
        return found[0] if found else None

    def _log(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        at: float | None = None,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        # A fixed time (the event's) makes a metric logged twice one row: MLflow
        # skips a metric with the same key, value, time and step.
        now = int((at if at is not None else time.time()) * 1000)
        clipped_metrics = {_limits.clip_key(k): float(v) for k, v in (metrics or {}).items()}
        parts = _limits.batches(
            clipped_metrics, _limits.clip_params(params or {}), _limits.clip_tags(tags or {})
        )
        for batch_metrics, batch_params, batch_tags in parts:
            self._client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in batch_metrics],
                params=[Param(k, v) for k, v in batch_params],
                tags=[RunTag(k, v) for k, v in batch_tags],
            )

    def _log_step_log(self, run_id: str, outcome: StepOutcome) -> None:
        """Upload the step's log as ``<step>.log``; an empty or missing log is not uploaded."""
        path = outcome.log_path
        if path is None or not path.is_file() or path.stat().st_size == 0:
            return
        name = outcome.log_name or path.name
        if name == path.name:
            self._log_file(run_id, path)
            return
        with tempfile.TemporaryDirectory(prefix="mlrecipes-log-") as tmp:
            named = Path(tmp) / name
            shutil.copyfile(path, named)
            self._log_file(run_id, named)

    def _log_file(self, run_id: str, path: Path) -> None:
        """Log one file, with the artifact URI known since the run was created.

        ``MlflowClient.log_artifact`` would first fetch the run to learn that URI
        (about a third of a step's tracking time on a sqlite store).
        """
        uri = self._artifact_uris.pop(run_id, None)
        if uri is None:
            self._client.log_artifact(run_id, str(path))
            return
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo: Any = get_artifact_repository(uri, tracking_uri=self.tracking_uri)
        repo.log_artifact(str(path))

    def _log_artifacts(self, run_id: str, artifacts: Mapping[str, Path]) -> None:
        if not artifacts:
            return
        # Stage ``<key>/<file name>`` so that one call uploads them all.
        with tempfile.TemporaryDirectory(prefix="mlrecipes-artifacts-") as tmp:
            for key, path in artifacts.items():
                if not key or "/" in key or key.startswith("."):
                    raise ValueError(f"artifact key {key!r} must be a plain name")
                (Path(tmp) / key).mkdir()
                shutil.copyfile(path, Path(tmp) / key / path.name)
            self._client.log_artifacts(run_id, tmp, artifact_path=ARTIFACTS_DIR)

    def _terminate(self, run_id: str, status: RunStatus, ended_at: float | None = None) -> None:
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"a run ends as one of {TERMINAL_STATUSES}, not {status!r}")
        params = self._pending_params.pop(run_id, None)
        if params:  # a run ended before its step finished (killed, never started)
            with contextlib.suppress(Exception):
                self._log(run_id, params=params)
        self._client.set_terminated(run_id, status=status, end_time=_ms(ended_at))
        for children in self._open_children.values():
            children.discard(run_id)

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return _client.translate_errors(self.tracking_uri, doing)


def _ms(seconds: float | None) -> int | None:
    return int(seconds * 1000) if seconds is not None else None


def quote(value: str) -> str:
    """``value`` as a string literal of MLflow's search syntax."""
    if "'" in value or "\\" in value:
        raise ValueError(f"cannot search for a value with quotes: {value!r}")
    return f"'{value}'"
