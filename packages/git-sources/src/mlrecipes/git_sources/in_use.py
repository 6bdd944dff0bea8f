"""Checkouts in use: a running pipeline holds its checkouts; a sync never moves one under it.

A run takes a shared lock on ``<checkouts_dir>/.<name>.in-use`` for every
checkout its steps import from, for as long as it runs; several runs share
them. A sync that would replace a checkout (another commit, ``workspace
update``) takes the exclusive lock first, without waiting: while a run holds
the checkout, the sync fails with :class:`CheckoutInUseError` and moves
nothing, so a step never reads code of another commit than the one its run
records and caches under.

The locks are ``fcntl.flock`` locks (``filelock`` has no shared mode): the
kernel drops them when their holder exits, ``kill -9`` included, so a crashed
run never keeps a checkout locked. One checkout per repo (not one per commit)
keeps paths stable for path installs (``-e ../other``) and environments.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mlrecipes.git_sources.checkout import read_head
from mlrecipes.git_sources.errors import CheckoutInUseError, CheckoutMovedError


def _lock_file(checkouts_dir: Path, name: str) -> Path:
    return checkouts_dir / f".{name}.in-use"


def _open(checkouts_dir: Path, name: str) -> int:
    checkouts_dir.mkdir(parents=True, exist_ok=True)
    return os.open(_lock_file(checkouts_dir, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


@contextmanager
def hold_checkouts(checkouts_dir: Path, commits: Mapping[str, str]) -> Iterator[None]:
    """Hold the checkouts ``name -> commit`` (shared) for the ``with`` block; raise
    :class:`CheckoutMovedError` if one is no longer at its commit once held."""
    fds: list[int] = []
    try:
        for name, commit in sorted(commits.items()):
            fd = _open(checkouts_dir, name)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only for a sync that is moving it now
            path = checkouts_dir / name
            head = read_head(path)
            if head != commit:
                raise CheckoutMovedError(name=name, path=path, commit=commit, head=head)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing drops the lock


@contextmanager
def moving_checkout(checkouts_dir: Path, name: str) -> Iterator[None]:
    """Hold ``name``'s checkout exclusively while it is replaced; raise
    :class:`CheckoutInUseError` at once when a run holds it."""
    fd = _open(checkouts_dir, name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckoutInUseError(name=name, path=checkouts_dir / name) from None
        yield
    finally:
        os.close(fd)
