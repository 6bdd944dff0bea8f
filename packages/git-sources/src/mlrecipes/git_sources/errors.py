"""Errors raised by :mod:`mlrecipes.git_sources`.

Every error carries data (the source name, the redacted URL, the rev, the path)
as attributes and a ``hint`` that says what to do next. No message ever holds a
credential: URLs and git's own output are redacted before they reach an error::

    GitSourceError                  base; ``hint`` is optional
    ├── UnsafeSourceError           a URL, rev, name or subdir that could inject options
    ├── RevNotFoundError            an unknown rev; ``candidates``: the nearest names
    ├── RemoteError                 the remote is unreachable or needs credentials (``auth``)
    ├── NotARepositoryError         a local path that is not a git repository
    ├── SubdirMissingError          ``subdir`` does not exist at that commit
    ├── DirtyCheckoutError          a checkout edited by hand; ``force=True`` discards the edits
    ├── DiskFaultError              git could not write: a full disk, a read-only mount
    ├── CheckoutInUseError          a sync would move a checkout a running pipeline holds
    └── CheckoutMovedError          a checkout left its commit before a run could hold it

This package is a leaf (it must not import :mod:`mlrecipes.core`), so the tree
has its own base; the CLI maps every ``GitSourceError`` to a user error (exit 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlrecipes.git_sources.commits import short_commit


class GitSourceError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UnsafeSourceError(GitSourceError):
    """A URL, rev, name or subdir refused because git could read it as an option or command."""

    def __init__(self, message: str, *, value: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.value = value


class RevNotFoundError(GitSourceError):
    """The repository has no branch, tag or commit named ``rev``.

    ``candidates`` are the nearest names; ``branches`` and ``tags`` what the
    repository has, so the hint can name them when nothing is near.
    """

    def __init__(
        self,
        *,
        name: str,
        url: str,
        rev: str,
        candidates: Sequence[str],
        branches: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.url = url
        self.rev = rev
        self.candidates = tuple(candidates)
        self.branches = tuple(branches)
        self.tags = tuple(tags)
        super().__init__(f"{name}: rev {rev!r} not found in {url}", hint=self._hint())

    def _hint(self) -> str:
        parts = []
        if self.candidates:
            parts.append(f"did you mean {', '.join(repr(c) for c in self.candidates)}?")
        for kind, names in (("branches", self.branches), ("tags", self.tags)):
            if names:
                shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
                parts.append(f"{kind}: {shown}")
        if not parts:
            return "use a branch, a tag or a commit SHA that exists in the repository"
        return "; ".join(parts)


class RemoteError(GitSourceError):
    """Git could not talk to the remote: unreachable, not found, or credentials needed."""

    def __init__(
        self, message: str, *, url: str, auth: bool = False, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.auth = auth


class NotARepositoryError(GitSourceError):
    """A local path (a source URL or a dev copy) that is not a git repository."""

    def __init__(self, message: str, *, path: Path, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class SubdirMissingError(GitSourceError):
    """The requested ``subdir`` is not a folder at the resolved commit."""

    def __init__(self, *, name: str, subdir: str, commit: str, available: Sequence[str]) -> None:
        self.name = name
        self.subdir = subdir
        self.commit = commit
        self.available = tuple(available)
        shown = ", ".join(self.available[:10]) or "(none)"
        super().__init__(
            f"{name}: subdir {subdir!r} does not exist at commit {short_commit(commit)}",
            hint=f"folders at the repository root: {shown}",
        )


class DirtyCheckoutError(GitSourceError):
    """A checkout has local edits that a sync would throw away."""

    def __init__(self, *, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        super().__init__(
            f"{name}: checkout {path} has local changes",
            hint="commit or copy them elsewhere, use it as a dev copy, or sync with force",
        )


class DiskFaultError(GitSourceError):
    """git failed because the machine refused a write, not because of the repository."""

    def __init__(self, *, name: str, path: Path, what: str, detail: str) -> None:
        self.name = name
        self.path = path
        super().__init__(
            f"{name}: {what} ({path}): {detail.strip().splitlines()[-1] if detail.strip() else ''}",
            hint="free space on that disk (see `df -h`) or make the folder writable, "
            "then sync again",
        )


class CheckoutInUseError(GitSourceError):
    """A checkout that a running pipeline uses would have been moved to another commit."""

    def __init__(self, *, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        super().__init__(
            f"{name}: checkout {path} is in use by a running pipeline; it was not moved",
            hint="wait for that run to finish (or stop it), then sync or update again",
        )


class CheckoutMovedError(GitSourceError):
    """A checkout left the commit a run synced it to before the run could hold it."""

    def __init__(self, *, name: str, path: Path, commit: str, head: str | None) -> None:
        self.name = name
        self.path = path
        now = short_commit(head) if head else "no commit"
        super().__init__(
            f"{name}: checkout {path} moved to {now} while this run started "
            f"(it synced {short_commit(commit)}); nothing ran",
            hint="another sync or update moved it; run again",
        )
