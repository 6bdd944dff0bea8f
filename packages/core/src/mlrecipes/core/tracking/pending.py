"""What the outbox still holds, for commands that read runs or report on them.

Anything that reads runs (``exp show``, ``reproduce``, ``ui``, the team store
lookup) first calls :func:`deliver_pending`; every command that logs ends with
:func:`report_waiting`, one :class:`~mlrecipes.core.events.RunsWaiting` event
when runs are still waiting. Both cost one ``listdir`` when the outbox is empty.
"""

from __future__ import annotations

import contextlib

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.events import EventHandler, RunsWaiting
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking.outbox import Pending, pending, segments

WAIT_TIMEOUT = 120.0


def deliver_pending(paths: WorkspacePaths, uri: str, *, timeout: float = WAIT_TIMEOUT) -> Pending:
    """Deliver what the outbox holds (by the warm tracker if one runs); what still waits.

    Never raises for a store that cannot take the runs: they keep waiting, and
    the result says why.
    """
    if not segments(paths.outbox):
        return Pending(0, 0)
    from mlrecipes.core.tracking.outbox_tracker import LocalCourier, WarmCourier
    from mlrecipes.core.tracking.warm import TrackerUnavailable, connect, idle_seconds

    courier: WarmCourier | LocalCourier
    try:
        connect(paths.tracker_socket).close()
        courier = WarmCourier(paths, uri, idle_seconds())
    except TrackerUnavailable:
        courier = LocalCourier(paths.outbox, uri)
    try:
        with contextlib.suppress(TrackingError):
            courier.deliver(timeout)
    finally:
        courier.close()
    return pending(paths.outbox)


def report_waiting(
    paths: WorkspacePaths, on_event: EventHandler, *, started_before: int | None = None
) -> Pending:
    """Emit :class:`RunsWaiting` when runs wait in the outbox for a reason (a delivery
    failed, or no warm tracker runs to deliver them); what waits.

    ``started_before``: the calling command's start (``time.time_ns()``); its own
    runs, handed to the warm tracker, count only if a delivery failed.
    """
    found = pending(paths.outbox, started_before=started_before)
    if found.runs and found.reason is None:
        from mlrecipes.core.tracking.warm import status

        if status(paths.tracker_socket) is not None:
            return found  # on their way: the warm tracker is delivering them
        found = Pending(found.runs, found.segments, "no tracker is delivering them")
    if found.runs:
        on_event(RunsWaiting(found.runs, found.reason))
    return found
