"""The durable outbox: every tracking event lands on disk before anything else sees it.

A command that logs writes one *segment*, ``.mlrecipes/outbox/<name>/``:

- ``events``: records appended in order, each ``<length u32><crc32 u32><pickle>``,
  fsynced before the call that wrote it returns. A torn last record (a kill in
  the middle of a write) fails its length or checksum and is ignored; the
  writer never appends after it (a segment has one writer, and only while it
  lives).
- ``blobs/``: copies of the files an event uploads (manifest, lock, step logs,
  ``steps.json``), so later commands cannot change them before delivery.
- ``ack``: how many records a deliverer has applied to MLflow.

The writer holds an exclusive ``flock`` on ``events`` while it lives; the
kernel drops it when the process dies (kill -9 included), which is how a
deliverer tells a finished or dead writer from a live one. Each event names
runs by *local ids* (``local-<32 hex>``); ``outbox/ids`` maps them to MLflow
run ids once delivered (one ``LOCAL MLFLOW`` line each), and every run carries
its local id as the tag :data:`~mlrecipes.core.tracking.base.TAG_LOCAL_ID`, so
a delivery cut short is redone without creating a run twice
(:mod:`mlrecipes.core.tracking.deliver`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import re
import shutil
import struct
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlrecipes.core.tracking.base import (
    PipelineInfo,
    PipelineSummary,
    PostRunJob,
    RunStatus,
    StepInfo,
    StepOutcome,
)

FORMAT = 1
_HEAD = struct.Struct("<II")
LOCAL_ID = re.compile(r"local-[0-9a-f]{32}")
EVENTS, ACK, BLOBS, IDS = "events", "ack", "blobs", "ids"


def new_local_id() -> str:
    return f"local-{uuid.uuid4().hex}"


# --- the events --------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """First record of a segment: where its runs go."""

    tracking_uri: str
    artifact_root: Path | None
    pid: int
    format: int = FORMAT


@dataclass(frozen=True)
class StartPipeline:
    local_id: str
    info: PipelineInfo


@dataclass(frozen=True)
class CreateStep:
    local_id: str
    parent: str
    info: StepInfo


@dataclass(frozen=True)
class FinishStep:
    local_id: str
    outcome: StepOutcome
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FinishPipeline:
    local_id: str
    status: RunStatus
    summary: PipelineSummary | None
    open_children: tuple[str, ...] = ()
    ended_at: float | None = None


@dataclass(frozen=True)
class RunJob:
    local_id: str
    job: PostRunJob


@dataclass(frozen=True)
class Close:
    """The writer ended normally: every run it opened has its end event."""


Event = Header | StartPipeline | CreateStep | FinishStep | FinishPipeline | RunJob | Close


def open_runs(events: list[Event]) -> list[str]:
    """Local ids of runs created in ``events`` and never ended there, children first."""
    created: dict[str, bool] = {}
    for event in events:
        if isinstance(event, StartPipeline):
            created[event.local_id] = False
        elif isinstance(event, CreateStep):
            created[event.local_id] = True
        elif isinstance(event, FinishStep | FinishPipeline):
            created.pop(event.local_id, None)
            if isinstance(event, FinishPipeline):
                for child in event.open_children:
                    created.pop(child, None)
    return sorted(created, key=lambda run: not created[run])


# --- records -----------------------------------------------------------------------


def encode(event: Event) -> bytes:
    payload = pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def read_events(path: Path) -> list[Event]:
    """Every whole record of ``path``; a torn or corrupt tail ends the list."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    events: list[Event] = []
    pos = 0
    while pos + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, pos)
        payload = data[pos + _HEAD.size : pos + _HEAD.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            break
        try:
            events.append(pickle.loads(payload))  # noqa: S301 (our own state folder)
        except Exception:
            break
        pos += _HEAD.size + length
    return events


# --- a segment ---------------------------------------------------------------------


class SegmentWriter:
    """Appends the events of one command (see module doc); not thread-safe."""

    def __init__(self, outbox: Path, header: Header) -> None:
        outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging = outbox / f".{name}"
        staging.mkdir()
        self._fd = os.open(staging / EVENTS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # held while this process lives
        self.dir = outbox / name
        self.count = 0
        self._write(header)
        staging.rename(self.dir)  # deliverers see a segment only once it has a header
        _fsync_dir(outbox)

    def append(self, event: Event) -> int:
        """Write ``event`` durably; the number of records the segment now holds."""
        self._write(event)
        return self.count

    def blob(self, path: Path, name: str | None = None) -> Path:
        """A durable copy of ``path`` inside the segment, for an event to upload."""
        folder = self.dir / BLOBS / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        copy = folder / (name or path.name)
        shutil.copyfile(path, copy)
        with copy.open("rb") as fh:
            os.fsync(fh.fileno())
        return copy

    def close(self) -> None:
        """Append :class:`Close` and let deliverers finish the segment."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self._write(Close())
        self.release()

    def release(self) -> None:
        """Stop writing without :class:`Close` (the runs still open end KILLED on delivery)."""
        if self._fd >= 0:
            os.close(self._fd)  # drops the flock
            self._fd = -1

    def _write(self, event: Event) -> None:
        record = encode(event)
        written = 0
        while written < len(record):
            written += os.write(self._fd, record[written:])
        os.fsync(self._fd)
        self.count += 1


def writer_alive(segment: Path) -> bool:
    """True while the process that writes ``segment`` lives (it holds the flock)."""
    try:
        fd = os.open(segment / EVENTS, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def segments(outbox: Path) -> list[Path]:
    """Segments in the order they were started (oldest first)."""
    try:
        found = sorted(p for p in outbox.iterdir() if not p.name.startswith(".") and p.name != IDS)
    except FileNotFoundError:
        return []
    return [segment for segment in found if (segment / EVENTS).is_file()]


def read_ack(segment: Path) -> int:
    try:
        return int((segment / ACK).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_ack(segment: Path, count: int) -> None:
    # No fsync: a lost ack only makes a delivery redo records, which is idempotent.
    tmp = segment / f".{ACK}.tmp"
    tmp.write_text(str(count))
    tmp.replace(segment / ACK)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- local id -> MLflow run id -----------------------------------------------------


class RunIds:
    """The durable map of local run ids to MLflow run ids (``outbox/ids``)."""

    def __init__(self, outbox: Path) -> None:
        self.path = outbox / IDS
        self._map: dict[str, str] = {}
        self._read = 0

    def get(self, local_id: str) -> str | None:
        self.refresh()
        return self._map.get(local_id)

    def resolve(self, run_id: str) -> str:
        """The MLflow id of ``run_id`` when it is a delivered local id, else itself."""
        if not run_id.startswith("local-"):
            return run_id
        return self.get(run_id) or run_id

    def translate(self, text: str) -> str:
        """``text`` with every delivered local id replaced by its MLflow id."""
        if "local-" not in text:
            return text
        self.refresh()
        return LOCAL_ID.sub(lambda m: self._map.get(m.group(0), m.group(0)), text)

    def add(self, local_id: str, run_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="ascii") as fh:
            fh.write(f"{local_id} {run_id}\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._map[local_id] = run_id

    def refresh(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._read)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a torn last line is read again once whole
        for line in data[:end].decode("ascii", "replace").splitlines():
            parts = line.split()
            if len(parts) == 2:
                self._map[parts[0]] = parts[1]
        self._read += end


# --- what is waiting ---------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """Runs whose events are not all in MLflow yet, and the last delivery error."""

    runs: int
    segments: int
    reason: str | None = None


def pending(outbox: Path, *, started_before: int | None = None) -> Pending:
    """What the outbox still holds.

    ``started_before`` (``time.time_ns()``): leave out segments started later (a
    command's own, which the warm tracker is taking) unless a delivery failed.
    """
    reason = last_error(outbox)
    runs: set[str] = set()
    count = 0
    for segment in segments(outbox):
        if started_before is not None and reason is None and _started(segment) >= started_before:
            continue
        waiting = read_events(segment / EVENTS)[read_ack(segment) :]
        if not waiting:
            continue
        count += 1
        runs.update(e.local_id for e in waiting if not isinstance(e, Header | Close))
    return Pending(len(runs), count, reason if count else None)


def _started(segment: Path) -> int:
    try:
        return int(segment.name.split("-", 1)[0])
    except ValueError:
        return 0


ERROR_FILE = ".error"


def last_error(outbox: Path) -> str | None:
    try:
        return (outbox / ERROR_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def set_error(outbox: Path, message: str | None) -> None:
    path = outbox / ERROR_FILE
    if message is None:
        path.unlink(missing_ok=True)
        return
    tmp = outbox / f"{ERROR_FILE}.tmp"
    tmp.write_text(message + "\n")
    tmp.replace(path)


def iter_waiting(outbox: Path) -> Iterator[tuple[Path, list[Event], int]]:
    """Each segment with its events and its ack count."""
    for segment in segments(outbox):
        yield segment, read_events(segment / EVENTS), read_ack(segment)
