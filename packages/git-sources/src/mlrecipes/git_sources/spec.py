"""What to check out (:class:`SourceSpec`), what came out (:class:`Resolved`), and the guards.

:func:`check_safe` refuses anything git could read as an option or a command
before a single git process starts: a leading ``-`` (option injection), remote
helper transports such as ``ext::`` and ``fd::``, control characters, and revs
that are refspecs or rev expressions rather than names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from mlrecipes.git_sources import _git
from mlrecipes.git_sources.errors import UnsafeSourceError
from mlrecipes.git_sources.rules import REV_HINT, URL_HINT, rev_problem, url_problem
from mlrecipes.git_sources.urls import redact_url

Phase = Literal["fetching", "checking-out", "ready", "failed"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_HEX40_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class SourceSpec:
    """One repository to check out.

    ``url`` may hold credentials (expanded from ``!env`` in memory): they are
    used for fetching only, never stored on disk nor shown. Relative local
    paths are relative to ``base_dir`` (the manifest's folder), else the cwd.
    """

    name: str
    url: str = field(repr=False)
    rev: str
    subdir: str | None = None
    base_dir: Path | None = None

    def __repr__(self) -> str:
        return (
            f"SourceSpec(name={self.name!r}, url={redact_url(self.url)!r}, rev={self.rev!r}, "
            f"subdir={self.subdir!r})"
        )


@dataclass(frozen=True)
class Resolved:
    """A checkout ready to use.

    ``url`` is redacted (or the normalized local path); ``tree`` is the git
    tree SHA of ``<commit>:<subdir>`` (the root tree without a subdir), or for
    a dev copy the tree of its working tree as it is. ``dirty`` is True only
    for a dev copy whose working tree differs from its HEAD.
    """

    name: str
    url: str
    rev: str
    commit: str
    subdir: str | None
    tree: str
    path: Path
    dirty: bool = False

    @property
    def project_dir(self) -> Path:
        """The folder of the project: the checkout root, or its ``subdir``."""
        return self.path / self.subdir if self.subdir else self.path


@dataclass(frozen=True)
class SourceEvent:
    """Progress of one source during a sync; ``message`` never holds credentials."""

    name: str
    phase: Phase
    message: str = ""


def is_full_sha(rev: str) -> bool:
    """True for a full 40-hex (lowercase) commit SHA."""
    return bool(_HEX40_RE.match(rev))


def check_safe(spec: SourceSpec) -> None:
    """Refuse a spec whose name, URL, rev or subdir could inject options or commands."""
    _check_name(spec.name)
    _check_url(spec.url)
    check_rev(spec.rev)
    if spec.subdir is not None:
        _check_subdir(spec.subdir)


def check_rev(rev: str) -> None:
    """Refuse a rev that is not a plain branch, tag or SHA name."""
    if why := rev_problem(rev):
        raise UnsafeSourceError(f"refusing rev {rev!r}: it {why}", value=rev, hint=REV_HINT)


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise UnsafeSourceError(
            f"refusing source name {name!r}",
            value=name,
            hint="use letters, digits, '.', '_' and '-', not starting with '-' or '.'",
        )


def _check_url(url: str) -> None:
    shown = redact_url(url)
    if why := url_problem(url):
        raise UnsafeSourceError(f"refusing URL {shown!r}: it {why}", value=shown, hint=URL_HINT)
    _git.check_protocol(url, shown)


def _check_subdir(subdir: str) -> None:
    pure = PurePosixPath(subdir)
    if pure.is_absolute() or ".." in pure.parts or subdir.startswith("-") or not subdir.strip():
        raise UnsafeSourceError(
            f"refusing subdir {subdir!r}",
            value=subdir,
            hint="a subdir is a relative folder inside the repository, without '..'",
        )
