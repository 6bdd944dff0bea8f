"""The step store: ``.mlrecipes/store/<step>/<fingerprint>/``, immutable once complete.

Layout of one step's folder::

    <step>/<fp>/                      a complete entry: the outputs and the marker
    <step>/<fp>/.mlrecipes-complete.json   metrics, outputs, run id, timestamps
    <step>/.tmp-<fp>-<rand>/          an entry being written (never counts as done)
    <step>/.tmp-<fp>-<rand>.lock      held (a file lock) by the process writing that temp
    <step>/.logs/<fp>-<time>-<rand>.log   the step's stdout and stderr, kept on failure
    <step>/.bycode/<code key>/<fp>    an empty file: entry <fp> was made with this key
                                      without code (function, params, inputs,
                                      environment minus the checkouts' code)

A step writes into a temp folder; :meth:`Store.publish` writes the marker and
renames the folder into place with :func:`os.replace`, so a crash or a kill
never leaves a half output that counts as complete. Logs live outside the temp
folder so that the log of a failed step survives :meth:`Store.discard`.
Locks are ``filelock`` locks (``flock`` on POSIX), released by the OS when a
process dies, which is how :meth:`Store.clean_partial` tells a stale temp from a
live one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrecipes.core.atomic import write_json_atomic
from mlrecipes.core.errors import StoreError

if TYPE_CHECKING:
    from filelock import BaseFileLock

MARKER = ".mlrecipes-complete.json"
RECORD_VERSION = 1
_TMP = ".tmp-"
_CLAIM = ".run-"  # <step>/.run-<fp>.lock: held by the process executing that entry
_LOGS = ".logs"
SPEC_LEFTOVER_AGE = 600.0
"""Seconds after which a step's runner spec (it holds secrets) counts as left over: a
live step's runner reads and removes its spec within a second of its start."""
_COPIES = ".copies"  # registry of declared paths where a copy stands in for a symlink
_BY_CODE = ".bycode"  # entries by their key without code (mlrecipes.core.codedeps)


@dataclass(frozen=True)
class EntryRecord:
    """What the completion marker of a store entry holds."""

    step: str
    fingerprint: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    run_id: str | None = None
    label: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    files: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Every file of the entry (relative path -> size, mtime_ns), checked when served."""
    code: Mapping[str, Any] | None = None
    """What the step read in the checkouts (a CodeRecord's JSON); None: not recorded."""
    code_key: str | None = None
    """The step's key without its code, when its record may stand in for the tree."""

    def to_json(self) -> dict[str, Any]:
        """The marker's JSON object."""
        return {
            "version": RECORD_VERSION,
            "step": self.step,
            "fingerprint": self.fingerprint,
            "label": self.label,
            "metrics": dict(self.metrics),
            "outputs": list(self.outputs),
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "files": {rel: list(stamp) for rel, stamp in self.files.items()},
            "code": dict(self.code) if self.code is not None else None,
            "code_key": self.code_key,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntryRecord:
        """Read a marker written by :meth:`to_json`."""
        return cls(
            step=data["step"],
            fingerprint=data["fingerprint"],
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
            outputs=tuple(data.get("outputs", ())),
            run_id=data.get("run_id"),
            label=data.get("label", ""),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            files={str(k): (int(v[0]), int(v[1])) for k, v in data.get("files", {}).items()},
            code=data.get("code") if isinstance(data.get("code"), Mapping) else None,
            code_key=data.get("code_key") if isinstance(data.get("code_key"), str) else None,
        )


class Store:
    """The folder of step outputs, keyed by step name and fingerprint."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[Path, BaseFileLock] = {}  # temp folder -> the lock held on it
        self._mutex = threading.Lock()
        # entries checked intact by this instance: (marker's inode, size, mtime) and record
        self._verified: dict[tuple[str, str], tuple[tuple[int, int, int], EntryRecord]] = {}

    def entry(self, step: str, fingerprint: str) -> Path:
        """Where the complete entry of ``step`` at ``fingerprint`` lives (or would)."""
        _check_name("step", step)
        _check_name("fingerprint", fingerprint)
        return self.root / step / fingerprint

    def is_complete(self, step: str, fingerprint: str) -> bool:
        """True when the entry has a readable marker and its files are as recorded.

        A damaged marker or an entry changed after it was published (a file
        edited, added or removed) counts as missing: the step runs again and
        its new entry replaces this one.
        """
        return self.read_record(step, fingerprint) is not None

    def read_record(self, step: str, fingerprint: str) -> EntryRecord | None:
        """The marker of a complete, intact entry, or None when there is none.

        A run asks about each entry several times (plan, report, summary); an entry
        checked intact is answered from memory while its marker is the same file
        (inode, size, mtime), so a replaced entry is read and checked again.
        """
        entry = self.entry(step, fingerprint)
        marker = entry / MARKER
        try:
            st = marker.stat()
        except OSError:
            return None
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        known = self._verified.get((step, fingerprint))
        if known is not None and known[0] == seen:
            return known[1]
        try:
            record = EntryRecord.from_json(json.loads(marker.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None  # damaged (truncated, edited, not UTF-8): recomputed like a missing one
        if record.files and _file_stamps(entry) != record.files:
            return None
        self._verified[(step, fingerprint)] = (seen, record)
        return record

    def begin(self, step: str, fingerprint: str) -> Path:
        """Create and lock a fresh temp folder for a new entry of ``step``."""
        step_dir = self.entry(step, fingerprint).parent
        step_dir.mkdir(parents=True, exist_ok=True)
        tmp = step_dir / f"{_TMP}{fingerprint}-{secrets.token_hex(4)}"
        # Lock before mkdir: clean_partial never sees this temp unlocked.
        from filelock import FileLock  # at first write: a run with nothing to do skips it

        lock = FileLock(_lock_path(tmp), mode=0o644)
        lock.acquire()
        tmp.mkdir()
        with self._mutex:
            self._locks[tmp] = lock
        return tmp

    def claim(self, step: str, fingerprint: str, timeout: float = 0) -> BaseFileLock | None:
        """The lock on executing ``step`` at ``fingerprint`` (one process at a time).

        None when another process holds it after ``timeout`` seconds. The caller
        re-checks :meth:`read_record` once it holds the lock (the other process
        may have published the entry) and releases it after publish or discard.
        """
        from filelock import FileLock, Timeout

        step_dir = self.entry(step, fingerprint).parent
        step_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(step_dir / f"{_CLAIM}{fingerprint}.lock", mode=0o644, timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock

    def publish(self, tmp: Path, step: str, fingerprint: str, record: EntryRecord) -> Path:
        """Write the marker into ``tmp`` and move it into place; returns the entry.

        When a complete entry appeared meanwhile (another process ran the same
        step), ``tmp`` is discarded and the existing entry kept.
        """
        final = self.entry(step, fingerprint)
        # Outputs become read-only, and their sizes and times are recorded: an
        # entry is immutable, and one changed anyway is not served (read_record).
        _protect(tmp)
        record = replace(record, files=_file_stamps(tmp))
        write_json_atomic(tmp / MARKER, record.to_json())
        try:
            tmp.replace(final)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if not self.is_complete(step, fingerprint):
                # A folder without a marker is junk (e.g. copied in by hand): move it away.
                self._trash(final)
                tmp.replace(final)
            else:
                self.discard(tmp)
                return final
        self._release(tmp)
        if record.code_key is not None:
            self._index_code(step, record.code_key, fingerprint)
        return final

    def code_candidates(self, step: str, code_key: str) -> list[str]:
        """Fingerprints of entries made with ``code_key`` (key without code), newest first.

        Only an index: each may be gone or incomplete (read its record to know).
        """
        _check_name("code key", code_key)
        folder = self.root / step / _BY_CODE / code_key
        try:
            found = [(p.stat().st_mtime_ns, p.name) for p in folder.iterdir()]
        except OSError:
            return []
        return [name for _, name in sorted(found, reverse=True)]

    def _index_code(self, step: str, code_key: str, fingerprint: str) -> None:
        _check_name("code key", code_key)
        folder = self.root / step / _BY_CODE / code_key
        with contextlib.suppress(OSError):  # an index: losing it costs a rerun, never a result
            folder.mkdir(parents=True, exist_ok=True)
            (folder / fingerprint).touch()

    def discard(self, tmp: Path) -> None:
        """Delete a temp folder (a failed or killed step) and release its lock."""
        _rmtree(tmp)
        self._release(tmp)

    def remove(self, step: str, fingerprint: str) -> None:
        """Delete a complete entry (e.g. before ``--force``), atomically for readers."""
        entry = self.entry(step, fingerprint)
        if entry.exists():
            self._trash(entry)

    def set_run_id(self, step: str, fingerprint: str, run_id: str) -> None:
        """Record the MLflow run that produced a complete entry."""
        marker = self.entry(step, fingerprint) / MARKER
        data = json.loads(marker.read_text(encoding="utf-8"))
        data["run_id"] = run_id
        write_json_atomic(marker, data)

    def log_path(self, step: str, fingerprint: str) -> Path:
        """A new log file path for one execution of ``step`` (its folder is created)."""
        logs = self.entry(step, fingerprint).parent / _LOGS
        logs.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        return logs / f"{fingerprint}-{stamp}-{secrets.token_hex(2)}.log"

    def logs(self, step: str, fingerprint: str) -> list[Path]:
        """Logs of every execution of ``step`` at ``fingerprint``, oldest first."""
        logs = self.entry(step, fingerprint).parent / _LOGS
        return sorted(logs.glob(f"{fingerprint}-*.log"), key=lambda p: p.stat().st_mtime_ns)

    def clean_partial(self) -> list[Path]:
        """Remove temp folders whose writer is gone; returns the removed folders.

        Best effort: a store that cannot be written (read-only) is left as it is.
        """
        try:
            return self._clean_partial()
        except OSError:
            return []

    def _clean_partial(self) -> list[Path]:
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for step_dir in self.root.iterdir():
            if not step_dir.is_dir() or step_dir.name.startswith("."):
                continue
            for tmp in sorted(step_dir.glob(f"{_TMP}*")):
                if tmp.suffix != ".lock" and _remove_if_stale(tmp):
                    removed.append(tmp)
            for lock in step_dir.glob(f"{_TMP}*.lock"):
                if not lock.with_suffix("").exists():
                    _remove_if_stale(lock.with_suffix(""))
            _remove_old_specs(step_dir / _LOGS)
        return removed

    def link_output(self, entry_path: Path, rel: str, declared: Path, workspace_root: Path) -> Path:
        """Make ``declared`` point at output ``rel`` of a store entry; returns ``declared``.

        A relative symlink, swapped in atomically; a copy where symlinks fail.
        Refuses a ``declared`` outside ``workspace_root``, a ``rel`` escaping
        the entry, and an existing file or folder that mlrecipes did not put
        there (user data is never overwritten).
        """
        step = entry_path.parent.name
        target = _inside_entry(entry_path, rel, step)
        place = self.check_declared(declared, step, workspace_root)
        place.parent.mkdir(parents=True, exist_ok=True)
        tmp_link = place.parent / f".{place.name}.mlrecipes-{secrets.token_hex(4)}"
        try:
            tmp_link.symlink_to(os.path.relpath(target.resolve(), place.parent))
        except OSError:
            self._copy_into_place(target, place)
            return declared
        _swap_in(tmp_link, place)
        self._copy_marker(place).unlink(missing_ok=True)
        return declared

    def check_declared(self, declared: Path, step: str, workspace_root: Path) -> Path:
        """The place ``declared`` resolves to, if an output of ``step`` may be linked there.

        Raises :class:`StoreError` for a place outside ``workspace_root`` or an
        existing file or folder mlrecipes did not put there (checked before a run too).
        """
        place = declared.parent.resolve() / declared.name
        root = workspace_root.resolve()
        if place == root or not place.is_relative_to(root):
            raise StoreError(
                f"an output of step {step!r} is declared at {declared}, outside the "
                f"workspace {root}",
                step=step,
                hint="declare outputs with !path under a root inside the workspace",
            )
        self._check_replaceable(place, step)
        return place

    # --- private helpers ---

    def _release(self, tmp: Path) -> None:
        with self._mutex:
            lock = self._locks.pop(tmp, None)
        if lock is not None:
            _lock_path(tmp).unlink(missing_ok=True)
            lock.release()

    def _trash(self, path: Path) -> None:
        trash = path.parent / f"{_TMP}trash-{secrets.token_hex(4)}"
        path.replace(trash)
        _rmtree(trash)

    def _copy_marker(self, place: Path) -> Path:
        digest = hashlib.sha256(str(place).encode()).hexdigest()
        return self.root / _COPIES / digest

    def _check_replaceable(self, place: Path, step: str) -> None:
        if not os.path.lexists(place):
            return
        if place.is_symlink():
            pointee = Path(os.path.normpath(place.parent / place.readlink()))
            if _is_within(pointee, self.root):
                return
        elif self._copy_marker(place).is_file():
            return
        raise StoreError(
            f"{place} already exists and was not made by mlrecipes; refusing to replace it "
            f"with the output of step {step!r}",
            step=step,
            hint="move or delete it, or declare the output at another path",
        )

    def _copy_into_place(self, target: Path, place: Path) -> None:
        """Fallback where symlinks are not allowed: copy beside, then swap in."""
        tmp = place.parent / f".{place.name}.mlrecipes-{secrets.token_hex(4)}"
        if target.is_dir():
            shutil.copytree(target, tmp, symlinks=True)
        else:
            shutil.copy2(target, tmp)
        marker = self._copy_marker(place)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(place), encoding="utf-8")
        _swap_in(tmp, place)


def _check_name(kind: str, name: str) -> None:
    if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ValueError(f"invalid {kind} for the store: {name!r}")


def _lock_path(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + ".lock")


def _remove_old_specs(logs: Path) -> None:
    """Remove runner specs a killed run left behind (they hold secrets in clear)."""
    now = time.time()
    for spec in logs.glob("*.spec.json"):
        with contextlib.suppress(OSError):
            if now - spec.stat().st_mtime > SPEC_LEFTOVER_AGE:
                spec.unlink()


def _remove_if_stale(tmp: Path) -> bool:
    """Remove ``tmp`` and its lock when no live process holds the lock."""
    from filelock import FileLock, Timeout

    path = _lock_path(tmp)
    # No lock file: the writer released it, the folder is leftover.
    lock = FileLock(path, timeout=0) if path.exists() else contextlib.nullcontext()
    try:
        with lock:
            existed = tmp.exists()
            _rmtree(tmp)
            path.unlink(missing_ok=True)
            return existed
    except Timeout:
        return False


def _inside_entry(entry_path: Path, rel: str, step: str) -> Path:
    entry = entry_path.resolve()
    target = (entry / rel).resolve()
    if target == entry or not target.is_relative_to(entry):
        raise StoreError(
            f"output path {rel!r} of step {step!r} escapes its store entry",
            step=step,
            hint="output paths must name a file or folder inside the entry",
        )
    if not target.exists():
        raise StoreError(f"output {rel!r} of step {step!r} is missing from {entry}", step=step)
    return target


def _is_within(path: Path, root: Path) -> bool:
    return path.is_relative_to(root) or path.is_relative_to(root.resolve())


def _swap_in(tmp: Path, place: Path) -> None:
    """Replace ``place`` by ``tmp``; a real folder (an old copy) cannot be renamed over."""
    if place.is_dir() and not place.is_symlink():
        shutil.rmtree(place)
    try:
        tmp.replace(place)
    except OSError:
        with contextlib.suppress(OSError):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
        raise


def _file_stamps(entry: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file and link under ``entry`` but the marker, by relative path.

    Size and mtime rather than a hash: hashing every output at publish would
    double the I/O of each step, and after :func:`_protect` only a deliberate
    write (or ``touch``) changes them; either way the entry is recomputed.
    """
    stamps: dict[str, tuple[int, int]] = {}
    for folder, _dirs, files in os.walk(entry):
        for name in files:
            full = Path(folder) / name
            rel = full.relative_to(entry).as_posix()
            if rel == MARKER or name.startswith(f".{MARKER}."):
                continue
            st = full.lstat()
            stamps[rel] = (st.st_size, st.st_mtime_ns)
    return stamps


def _protect(entry: Path) -> None:
    """Clear the write bits of every file under ``entry`` (folders stay writable, so the
    entry can be replaced or removed; a file added later is caught by the stamps)."""
    for folder, _dirs, files in os.walk(entry):
        for name in files:
            full = Path(folder) / name
            st = full.lstat()
            if stat.S_ISREG(st.st_mode):
                full.chmod(stat.S_IMODE(st.st_mode) & ~_WRITE_BITS)


_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def _rmtree(path: Path) -> None:
    """Remove a tree that may hold read-only files or folders (a protected entry)."""

    def writable_then_retry(func: Any, name: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            parent = Path(name).parent
            parent.chmod(stat.S_IMODE(parent.stat().st_mode) | stat.S_IWUSR)
            func(name)

    shutil.rmtree(path, onerror=writable_then_retry)
