"""Parallel orchestration: every source fetched and checked out side by side.

Per source, under a file lock on its checkout (then on its mirror, always in
that order, so two syncs never deadlock):

1. pinned and already checked out clean at that commit: done, without the
   mirror and without network (the fast path of a no-op sync);
2. otherwise resolve the rev (or make sure the pinned commit is) in the mirror,
   check the subdir exists at that commit, and rebuild the checkout atomically
   unless it is already clean at that commit. A checkout edited by hand is
   refused (:class:`DirtyCheckoutError`) unless ``force``.

Every source runs to its end even when another fails; then the first failure
(in the order of ``specs``) is raised, and ``on_event`` has seen a "failed"
event for each one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlrecipes.git_sources import _git, checkout, mirror
from mlrecipes.git_sources.commits import short_commit
from mlrecipes.git_sources.errors import (
    DirtyCheckoutError,
    DiskFaultError,
    GitSourceError,
    SubdirMissingError,
    UnsafeSourceError,
)
from mlrecipes.git_sources.in_use import moving_checkout
from mlrecipes.git_sources.spec import Phase, Resolved, SourceEvent, SourceSpec, is_full_sha
from mlrecipes.git_sources.urls import redact_text

EventSink = Callable[[SourceEvent], None]


def resolve_rev(spec: SourceSpec, *, cache_dir: Path) -> str:
    """The 40-hex commit ``spec.rev`` names, fetching into the mirror only if needed."""
    remote = mirror.remote_of(spec)
    with mirror.locked_mirror(cache_dir, remote) as path:
        return mirror.resolve_in_mirror(path, remote, spec.name, spec.rev)


@dataclass(frozen=True)
class _Job:
    checkouts_dir: Path
    cache_dir: Path
    force: bool
    emit: EventSink


def sync_sources(
    specs: Sequence[SourceSpec],
    *,
    checkouts_dir: Path,
    cache_dir: Path,
    pinned: Mapping[str, str] | None = None,
    update: Collection[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    on_event: EventSink | None = None,
) -> list[Resolved]:
    """Check every spec out at its commit in ``checkouts_dir/<name>``; results in spec order.

    ``pinned`` maps names to commits used exactly (no rev resolution: frozen
    mode); names in ``update`` are resolved from their rev even when pinned.
    ``on_event`` is called from worker threads, one call at a time.
    """
    _check_names(specs)
    pins = {k: v for k, v in (pinned or {}).items() if k not in set(update or ())}
    job = _Job(checkouts_dir, cache_dir, force, _serialized(on_event))
    workers = jobs or min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="git-sync") as pool:
        futures = [pool.submit(_sync_one, spec, pins.get(spec.name), job) for spec in specs]
        outcomes = [f.exception() or f.result() for f in futures]
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return [o for o in outcomes if isinstance(o, Resolved)]


def _check_names(specs: Sequence[SourceSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UnsafeSourceError(
                f"two sources are named {spec.name!r}", value=spec.name, hint="rename one"
            )
        seen.add(spec.name)


def _serialized(on_event: EventSink | None) -> EventSink:
    lock = threading.Lock()

    def emit(event: SourceEvent) -> None:
        if on_event is not None:
            with lock:
                on_event(event)

    return emit


def _sync_one(spec: SourceSpec, pin: str | None, job: _Job) -> Resolved:
    remote_shown = spec.url
    try:
        remote = mirror.remote_of(spec)
        remote_shown = remote.shown
        result = _locked_sync(spec, remote, pin, job)
    except GitSourceError as exc:
        job.emit(SourceEvent(spec.name, "failed", exc.message))
        raise
    except _git.GitFailed as exc:
        error: GitSourceError = GitSourceError(
            f"{spec.name}: {exc}", hint="see git's message above"
        )
        path = job.checkouts_dir / spec.name
        fault = exc.disk_fault(path)
        if fault is not None:
            error = DiskFaultError(name=spec.name, path=path, what=fault, detail=exc.stderr)
        job.emit(SourceEvent(spec.name, "failed", error.message))
        raise error from None
    except Exception as exc:
        # An unexpected error may quote the URL: never let credentials through.
        text = redact_text(str(exc), (spec.url,))
        job.emit(SourceEvent(spec.name, "failed", f"{spec.name}: {text} ({remote_shown})"))
        raise
    job.emit(SourceEvent(spec.name, "ready", short_commit(result.commit)))
    return result


def _locked_sync(spec: SourceSpec, remote: mirror.Remote, pin: str | None, job: _Job) -> Resolved:
    from filelock import FileLock  # on first use: a CLI command that syncs nothing skips it

    if pin is not None and not is_full_sha(pin):
        raise UnsafeSourceError(
            f"{spec.name}: pinned commit {pin!r} is not a 40-hex SHA",
            value=pin,
            hint="fix or delete the lock entry, then sync again",
        )
    final = job.checkouts_dir / spec.name
    job.checkouts_dir.mkdir(parents=True, exist_ok=True)
    subdir = str(PurePosixPath(spec.subdir)) if spec.subdir else None
    with FileLock(str(job.checkouts_dir / f".{spec.name}.lock")):
        checkout.clean_stale(job.checkouts_dir, spec.name)
        if pin is not None and checkout.checkout_state(final, pin) == "clean":
            return _result(spec, remote, pin, subdir, final, final, cache=True)
        job.emit(SourceEvent(spec.name, "fetching", remote.shown))
        with mirror.locked_mirror(job.cache_dir, remote) as repo:
            if pin is None:
                commit = mirror.resolve_in_mirror(repo, remote, spec.name, spec.rev)
            else:
                commit = pin
                mirror.ensure_commit(repo, remote, spec.name, pin)
            resolved = _result(spec, remote, commit, subdir, final, repo)
            state = checkout.checkout_state(final, commit)
            if state == "dirty" and not job.force:
                raise DirtyCheckoutError(name=spec.name, path=final)
            if state != "clean":
                _emit(job, spec.name, "checking-out", short_commit(commit))
                # Never under a running pipeline's steps (in_use module doc).
                with moving_checkout(job.checkouts_dir, spec.name):
                    checkout.materialize(repo, commit, final, remote.shown)
        checkout.remember_tree(final, commit, subdir, resolved.tree)
        return resolved


def _emit(job: _Job, name: str, phase: Phase, message: str) -> None:
    job.emit(SourceEvent(name, phase, message))


def _result(
    spec: SourceSpec,
    remote: mirror.Remote,
    commit: str,
    sub: str | None,
    final: Path,
    repo: Path,
    *,
    cache: bool = False,
) -> Resolved:
    """The Resolved for ``commit``; its tree is read from ``repo`` (mirror or checkout).

    With ``cache`` (``repo`` is the clean checkout ``final`` itself) the tree
    comes from the checkout's tree cache when known, and is added to it if not.
    """
    tree = checkout.cached_tree(final, commit, sub) if cache else None
    if tree is None:
        tree = _git.tree_of(repo, commit, sub)
        if tree is None:  # only a subdir can be missing: the root tree always exists
            raise SubdirMissingError(
                name=spec.name,
                subdir=sub or "",
                commit=commit,
                available=_git.root_folders(repo, commit),
            )
        if cache:
            checkout.remember_tree(final, commit, sub, tree)
    return Resolved(
        name=spec.name, url=remote.shown, rev=spec.rev, commit=commit,
        subdir=sub, tree=tree, path=final,
    )  # fmt: skip
