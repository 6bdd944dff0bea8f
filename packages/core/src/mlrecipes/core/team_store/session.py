"""The team store during one ``run``: look up, fetch, and start uploads.

:meth:`TeamStore.lookup` finds, for every step the plan would run, a complete
upload of its fingerprint (one search per step, a few at once);
:meth:`TeamStore.fetch` downloads those into the local store (a few at once)
and returns the plan with them cached; :meth:`TeamStore.after_step` is the run
layer's ``after_step`` hook: the upload of a step that executed, queued on the
tracker (its own process) once the step's run exists, so no step waits for it;
:meth:`TeamStore.report_uploads` says, after the run, what was not shared.
Nothing here fails a run: a team store that cannot be used says why in one
line (a :class:`TeamStoreNotice`) and the run goes on with the local store.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlrecipes.core.events import EventHandler, TeamStoreNotice
from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.plan.planner import Plan, PlannedStep
from mlrecipes.core.store.local import Store
from mlrecipes.core.team_store import _mlflow
from mlrecipes.core.team_store.config import ShareSettings, unreachable_artifacts
from mlrecipes.core.team_store.fetch import (
    FetchResult,
    RemoteEntry,
    fetch_entry,
    find_remote_entry,
)
from mlrecipes.core.team_store.publish import (
    PublishJob,
    PublishResult,
    publish_in_tracker,
    read_results,
)
from mlrecipes.core.tracking.base import PostRunJob
from mlrecipes.git_sources import redact_text

PARALLEL = 4  # searches and downloads at once: I/O-bound, and kind to the server


class _Stopped(Exception):
    """Raised inside a download when the run is interrupted."""


class TeamStore:
    """One run's view of the team store of ``settings.tracking_uri``."""

    def __init__(
        self, settings: ShareSettings, experiment: str, on_event: EventHandler, scratch: Path
    ) -> None:
        """``scratch``: a folder of this workspace's state for the uploads' results."""
        self.settings = settings
        self.results = scratch / f"uploads-{secrets.token_hex(4)}"
        self.experiment = experiment
        self.on_event = on_event
        self.found: dict[str, RemoteEntry] = {}
        self._client: Future[Any] | None = None
        self._said: set[str] = set()  # kinds of notice already given once this run
        self._lock = threading.Lock()

    def connect(self) -> Future[Any]:
        """The MLflow client, made on a thread of its own (``import mlflow`` takes
        seconds): a caller may start it early, to overlap other work."""
        if self._client is None:
            future: Future[Any] = Future()
            self._client = future
            thread = threading.Thread(
                target=self._make_client, args=(future,), name="mlrecipes-team-store", daemon=True
            )
            thread.start()
        return self._client

    def _make_client(self, future: Future[Any]) -> None:
        try:
            future.set_result(_mlflow.make_client(self.settings.tracking_uri))
        except BaseException as exc:
            future.set_exception(exc)

    def lookup(self, plan: Plan) -> Plan:
        """``plan`` with ``remote`` set for the steps the team store has."""
        wanted = [s for s in plan.unique().values() if s.status == "run" and not s.forced]
        if not wanted:
            return plan
        try:
            found = self._search(wanted)
        except Exception as exc:
            where = redact_text(self.settings.tracking_uri)
            self._notice(f"cannot search the team store at {where}: {_mlflow.safe_reason(exc)}")
            return plan
        self.found = {entry.fingerprint: entry for entry in found if entry is not None}
        return plan.with_remote({fp: entry.run_id for fp, entry in self.found.items()})

    def fetch(self, plan: Plan, store: Store) -> Plan:
        """Download what :meth:`lookup` found; the plan with those steps cached."""
        steps = {s.fingerprint: s for s in plan.unique().values() if s.fingerprint in plan.remote}
        if not steps:
            return plan
        stop = threading.Event()
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="mlrecipes-fetch") as pool:
            futures = [pool.submit(self._fetch_one, step, store, stop) for step in steps.values()]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                stop.set()  # running downloads stop before their next file and clean up
                for future in futures:
                    future.cancel()
                raise
        for result in results:
            if not result.ok:
                step = steps[result.remote.fingerprint].step
                self._notice(
                    f"{step}: not taken from the team store (run {result.remote.run_id}): "
                    f"{result.reason}; running it instead",
                    step=step,
                )
        return plan.with_fetched([r.remote.fingerprint for r in results if r.ok])

    def after_step(self, result: StepResult) -> PostRunJob | None:
        """The upload of a step that executed, as a job for the tracker (or None)."""
        if result.entry is None:
            return None
        record = Store(result.entry.parent.parent).read_record(result.step, result.key)
        job = PublishJob(
            run_id="",  # filled in by the tracker once the run exists
            step=result.step,
            fingerprint=result.key,
            entry=result.entry,
            metrics=dict(result.metrics),
            outputs=record.outputs if record is not None else (),
            code=record.code if record is not None else None,
            code_key=record.code_key if record is not None else None,
        )
        return functools.partial(publish_in_tracker, job, self.settings, self.results)

    def report_uploads(self) -> None:
        """After the run: one line for each step not shared, and why."""
        for result in read_results(self.results):
            self._uploaded(result)
        shutil.rmtree(self.results, ignore_errors=True)

    def _search(self, wanted: Sequence[PlannedStep]) -> list[RemoteEntry | None]:
        client = self.connect().result()
        # A server that is down must not hold the run for MLflow's retries (minutes
        # of backoff): probe it once without retries, then search.
        _mlflow.check_connection(client, self.settings.tracking_uri)
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return []
        if unreachable_artifacts(self.settings, str(experiment.artifact_location)):
            self._no_artifact_serving()
            return []
        experiment_id = str(experiment.experiment_id)
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="mlrecipes-lookup") as pool:
            found: list[Future[RemoteEntry | None]] = [
                pool.submit(find_remote_entry, client, experiment_id, s.step, s.fingerprint)
                for s in wanted
            ]
            return [future.result() for future in found]

    def _fetch_one(self, step: PlannedStep, store: Store, stop: threading.Event) -> FetchResult:
        def check(_item: object) -> None:
            if stop.is_set():
                raise _Stopped("interrupted")

        check(None)
        return fetch_entry(
            self.found[step.fingerprint],
            store,
            tracking_uri=self.settings.tracking_uri,
            expected_outputs=step.outputs.values(),
            label=step.step,
            on_file=check,
        )

    def _uploaded(self, result: PublishResult) -> None:
        if result.kind == "no-artifact-serving":
            self._no_artifact_serving()
        elif result.status in ("skipped", "failed"):
            self._notice(f"{result.step}: {result.reason}", step=result.step)

    def _no_artifact_serving(self) -> None:
        where = redact_text(self.settings.tracking_uri)
        self._notice(
            f"the MLflow server at {where} keeps artifacts on its own disk (started "
            "without --serve-artifacts): steps are cached locally only",
            once="no-artifact-serving",
        )

    def _notice(self, message: str, *, step: str | None = None, once: str = "") -> None:
        with self._lock:
            if once and once in self._said:
                return
            self._said.add(once)
        self.on_event(TeamStoreNotice(message, step))
