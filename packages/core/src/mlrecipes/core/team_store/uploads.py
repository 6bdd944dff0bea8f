"""Uploads off the critical path: a daemon worker thread publishes entries in order.

``submit`` never blocks, so the next step starts at once; ``wait`` (at the end
of a run) blocks until every upload is done. ``abandon`` (Ctrl-C) drops what is
queued and makes the upload under way stop before its next file; its run never
gets the completion tag, so nobody fetches the partial upload. The thread is a
daemon: an abandoned upload never keeps the process alive.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeAlias

from mlrecipes.core.team_store import _mlflow
from mlrecipes.core.team_store.config import ShareSettings
from mlrecipes.core.team_store.publish import PublishJob, PublishResult, publish_outputs

_DONE = None
LaterJob: TypeAlias = Callable[[], PublishJob]
"""A job whose step run may not exist yet: called on the worker, it may block until
it does (e.g. resolve the future of the run id); an error skips the upload."""


class Uploads:
    """A queue of :class:`PublishJob` and one worker thread with its own client.

    ``on_result`` is called on the worker thread for every finished upload.
    ``make_client`` builds the MLflow client (on the worker, so that the
    seconds ``import mlflow`` may take are not the caller's).
    """

    def __init__(
        self,
        settings: ShareSettings,
        *,
        on_result: Callable[[PublishResult], None] = lambda result: None,
        make_client: Callable[[str], Any] = _mlflow.make_client,
    ) -> None:
        self.settings = settings
        self._on_result = on_result
        self._make_client = make_client
        self._queue: queue.Queue[PublishJob | LaterJob | None] = queue.Queue()
        self._stop = threading.Event()
        self._results: list[PublishResult] = []
        self._thread = threading.Thread(target=self._work, name="mlrecipes-uploads", daemon=True)
        self._thread.start()

    def submit(self, job: PublishJob | LaterJob) -> None:
        """Queue ``job``; returns at once."""
        if not self._stop.is_set():
            self._queue.put(job)

    def wait(self) -> list[PublishResult]:
        """Block until every queued upload is done; their results, in order."""
        self._queue.put(_DONE)
        self._thread.join()
        return list(self._results)

    def abandon(self) -> None:
        """Stop without waiting: queued jobs are dropped, the current one stops soon."""
        self._stop.set()
        self._queue.put(_DONE)

    def _work(self) -> None:
        client: Any = None
        while (item := self._queue.get()) is not _DONE:
            if self._stop.is_set():
                continue
            job = _job_of(item)
            if job is None:
                continue
            if client is None:
                try:
                    client = self._make_client(self.settings.tracking_uri)
                except Exception as exc:
                    why = f"upload failed: {_mlflow.safe_reason(exc)}"
                    self._record(PublishResult(job.step, job.run_id, "failed", why))
                    continue
            result = publish_outputs(client, job, self.settings, stop=self._stop.is_set)
            self._record(result)

    def _record(self, result: PublishResult) -> None:
        self._results.append(result)
        # A renderer's bug must not stop the uploads.
        with contextlib.suppress(Exception):
            self._on_result(result)


def _job_of(item: PublishJob | LaterJob) -> PublishJob | None:
    if isinstance(item, PublishJob):
        return item
    try:
        return item()
    except Exception:  # no step run to upload to: the tracker reports why
        return None
