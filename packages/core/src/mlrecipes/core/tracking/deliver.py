"""Delivering the outbox to MLflow: each segment's events in order, idempotently.

A :class:`Deliverer` runs in the warm tracker (:mod:`.warm`) or, when there is
none, in the command itself. It applies a segment's records from its ``ack``
count on, under the segment's delivery lock (so two deliverers never apply the
same record), and advances ``ack`` after each. A record cut short by a kill is
applied again: the run it created is found by its local-id tag
(``MlflowTracker.find_existing``), params and tags are written with the same
values, metrics with the event's own time (MLflow keeps one row), artifacts to
the same paths, and ending a run twice is harmless.

A step's end is told before its result is published in the store (its
``outcome.kept`` names the entry): it is applied once that entry exists, so a
kill between the two can neither lose the step's end (its entry is a cache hit
from then on) nor report a result that was never kept. While the writer lives,
delivery of the segment pauses there; once it is gone, an entry that never
appeared ends the run KILLED with a note.

Local ids inside values (a parent's ``source_run`` tags, ``steps.json``) are
replaced by MLflow ids on the way. A segment whose writer is gone is finished:
runs it left open (a kill; an interrupt that dropped end events) end KILLED with a
note, then the segment is removed.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking._client import step_tracking_env
from mlrecipes.core.tracking.base import TAG_NOTE, PipelineInfo, PipelineSummary, StepInfo
from mlrecipes.core.tracking.log_redaction import RedactingStream
from mlrecipes.core.tracking.outbox import (
    EVENTS,
    CreateStep,
    Event,
    FinishPipeline,
    FinishStep,
    Header,
    RunIds,
    RunJob,
    StartPipeline,
    open_runs,
    read_ack,
    read_events,
    segments,
    set_error,
    write_ack,
    writer_alive,
)

DIED_NOTE = "ended by mlrecipes: the command that ran it stopped before ending it"
NOT_KEPT_NOTE = (
    "ended by mlrecipes: the step returned, but the command that ran it stopped before "
    "its result was kept in the store"
)
LOCK_NAME = "deliver.lock"
_TEXT_LIMIT = 4 << 20  # artifacts larger than this are not searched for local ids

log = logging.getLogger(__name__)


class Deliverer:
    """Applies the outbox at ``outbox`` to MLflow (see module doc); one thread only."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.ids = RunIds(outbox)
        self._trackers: dict[str, Any] = {}
        self.finished: set[tuple[str, str]] = set()
        """(tracking URI, experiment) of pipelines ended since the caller last cleared it."""

    def deliver_all(self, *, lock_timeout: float = 0) -> None:
        """Every segment as far as it is written; raises the first :class:`TrackingError`."""
        try:
            for segment in segments(self.outbox):
                self.deliver(segment, lock_timeout=lock_timeout)
        except TrackingError as exc:
            set_error(self.outbox, exc.message)
            self._trackers.clear()  # the next attempt checks the connection afresh
            raise
        set_error(self.outbox, None)

    def deliver(self, segment: Path, *, lock_timeout: float = 0) -> bool:
        """Apply what ``segment`` holds; False when another deliverer has it now."""
        from filelock import FileLock, Timeout

        try:
            with FileLock(segment / LOCK_NAME, timeout=lock_timeout):
                self._deliver_locked(segment)
        except Timeout:
            return False
        except FileNotFoundError:  # finished by another deliverer meanwhile
            return True
        return True

    def run_id(self, local_id: str) -> str | None:
        return self.ids.get(local_id)

    def step_env(self, tracking_uri: str, run_id: str) -> dict[str, str]:
        tracker = self._trackers.get(tracking_uri)
        if tracker is None:
            return step_tracking_env(tracking_uri, run_id)
        return dict(tracker.step_env(run_id))

    def close(self) -> None:
        self._trackers.clear()

    def _deliver_locked(self, segment: Path) -> None:
        finished = not writer_alive(segment)  # before reading: nothing is appended after
        events = read_events(segment / EVENTS)
        if not events or not isinstance(events[0], Header):
            if finished:
                shutil.rmtree(segment, ignore_errors=True)
            return
        header = events[0]
        done = max(read_ack(segment), 1)
        # A writer gone (killed, or closed after an interrupt dropped its end events)
        # leaves no run RUNNING.
        ends_open = finished and bool(open_runs(events))
        if done >= len(events) and not ends_open:
            if finished:
                shutil.rmtree(segment, ignore_errors=True)
            return
        tracker = self._tracker(header)
        first = done
        for index in range(done, len(events)):
            event = events[index]
            if _not_kept_yet(event):
                if not finished:
                    return  # its store entry is being published: a later pass applies it
                event = _not_kept(event)
            tracker.find_existing = index == first
            try:
                self._apply(tracker, event)
            except TrackingError:
                raise
            except Exception:  # a record we cannot apply must not block those after it
                log.exception("skipped tracking event %d of %s", index, segment.name)
            write_ack(segment, index + 1)
        if any(isinstance(e, FinishPipeline) for e in events[first:]):
            for event in events:
                if isinstance(event, StartPipeline):
                    self.finished.add((header.tracking_uri, event.info.experiment))
        if finished:
            if ends_open:
                self._end_open_runs(tracker, events)
            shutil.rmtree(segment, ignore_errors=True)

    def _tracker(self, header: Header) -> Any:
        tracker = self._trackers.get(header.tracking_uri)
        if tracker is None:
            from mlrecipes.core.tracking.mlflow_tracker import MlflowTracker

            if isinstance(sys.stderr, RedactingStream):  # MLflow quotes the URI, token and all
                sys.stderr.add_url_credentials(header.tracking_uri)

            tracker = MlflowTracker(header.tracking_uri, artifact_root=header.artifact_root)
            self._trackers[header.tracking_uri] = tracker
        return tracker

    def _mlflow_id(self, local_id: str) -> str:
        run_id = self.ids.get(local_id)
        if run_id is None:
            raise ValueError(f"run {local_id} was never created")
        return run_id

    def _apply(self, tracker: Any, event: Event) -> None:
        if isinstance(event, StartPipeline):
            if self.ids.get(event.local_id) is None:
                run_id = tracker.start_pipeline(self._pipeline_info(event.info))
                self.ids.add(event.local_id, run_id)
        elif isinstance(event, CreateStep):
            if self.ids.get(event.local_id) is None:
                parent = self._mlflow_id(event.parent)
                run_id = tracker.create_step_run(parent, self._step_info(event.info))
                self.ids.add(event.local_id, run_id)
        elif isinstance(event, FinishStep):
            run_id = self._mlflow_id(event.local_id)
            tracker.expect_params(run_id, self._values(event.params))
            outcome = dataclasses.replace(event.outcome, tags=self._values(event.outcome.tags))
            tracker.finish_step(run_id, outcome)
        elif isinstance(event, FinishPipeline):
            for child in event.open_children:
                if (child_id := self.ids.get(child)) is not None:
                    tracker.end_run(child_id, "KILLED")
            summary = self._summary(event.summary) if event.summary is not None else None
            tracker.finish_pipeline(
                self._mlflow_id(event.local_id), event.status, summary, event.ended_at
            )
        elif isinstance(event, RunJob):
            tracker.run_job(event.job, self._mlflow_id(event.local_id))

    def _end_open_runs(self, tracker: Any, events: list[Event]) -> None:
        for local_id in open_runs(events):
            run_id = self.ids.get(local_id)
            if run_id is not None:
                tracker.end_run(run_id, "KILLED", note=DIED_NOTE)

    def _values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.ids.translate(v) if isinstance(v, str) else v for k, v in values.items()}

    def _files(self, files: Mapping[str, Path]) -> Mapping[str, Path]:
        for path in files.values():
            _translate_file(path, self.ids)
        return files

    def _pipeline_info(self, info: PipelineInfo) -> PipelineInfo:
        return dataclasses.replace(
            info,
            tags=self._values(info.tags),
            params=self._values(info.params),
            artifacts=self._files(info.artifacts),
        )

    def _step_info(self, info: StepInfo) -> StepInfo:
        return dataclasses.replace(info, tags=self._values(info.tags))

    def _summary(self, summary: PipelineSummary) -> PipelineSummary:
        return dataclasses.replace(
            summary,
            tags=self._values(summary.tags),
            params=self._values(summary.params),
            artifacts=self._files(summary.artifacts),
            pages=tuple(self._files({page.name: page for page in summary.pages}).values()),
        )


def _not_kept_yet(event: Event) -> TypeGuard[FinishStep]:
    """A step's end told before its result was published, and not published (yet)."""
    if not isinstance(event, FinishStep) or event.outcome.kept is None:
        return False
    return not event.outcome.kept.exists()


def _not_kept(event: FinishStep) -> FinishStep:
    """The end of a step whose command died before its result was kept: KILLED, noted."""
    tags = {**event.outcome.tags, TAG_NOTE: NOT_KEPT_NOTE}
    outcome = dataclasses.replace(event.outcome, status="KILLED", tags=tags)
    return dataclasses.replace(event, outcome=outcome)


def _translate_file(path: Path, ids: RunIds) -> None:
    """Rewrite a text artifact of the outbox with MLflow ids in place of local ones."""
    try:
        if path.stat().st_size > _TEXT_LIMIT:
            return
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    translated = ids.translate(text)
    if translated != text:
        path.write_text(translated, encoding="utf-8")
