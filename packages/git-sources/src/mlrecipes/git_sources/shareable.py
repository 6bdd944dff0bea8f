"""URLs a teammate can fetch: what runs record instead of a path on one machine.

The rules, in order, for a repo URL written in a manifest (``base_dir`` is the
manifest's folder):

1. A remote URL (https, ssh, scp-style, git://) is recorded as given, without
   credentials.
2. A relative local path in a manifest that lives in a git repository with a
   remote resolves against that remote the way git resolves a relative
   submodule URL: ``../models.git`` next to ``git@host:team/experiments.git``
   is ``git@host:team/models.git``; a path inside the same repository (``.``)
   is the remote itself.
3. Any other local path (or ``file://`` URL) is recorded as its own repository's
   remote when it has one.
4. Otherwise the folder can be fetched on this machine only: it is recorded by
   its absolute path and marked local-only.

The "remote" of a repository is git's default one: the remote of the current
branch's upstream, else ``origin``, else the only remote there is.
:func:`fetch_url` applies rule 2 to fetching too, for a relative path that does
not exist here (a CI runner's checkout of the workspace repository).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.git_sources import _git
from mlrecipes.git_sources.urls import SCHEME_RE, classify, local_path, redact_url


@dataclass(frozen=True)
class ShareableUrl:
    """A repo's URL as runs record it: credentials stripped, or a local-only path."""

    url: str
    local_only: bool = False


@dataclass(frozen=True)
class FolderRepo:
    """The git repository a folder lives in: where it can be fetched, and its state."""

    root: Path
    commit: str
    dirty: bool
    url: ShareableUrl
    folder: str
    """The folder, relative to ``root`` (``.`` for the root itself)."""


class RelativeUrlError(ValueError):
    """A relative URL climbs above the host of the URL it is resolved against."""


def join_relative(remote: str, relative: str) -> str:
    """``relative`` (``../x.git``, ``./y``, ``.``) resolved against ``remote`` as git
    resolves a relative submodule URL: each ``../`` drops the last ``/`` component of
    ``remote``, or its ``:path`` (``host:repo.git`` + ``../x`` is ``host:x``)."""
    base, colon, rest = remote.rstrip("/"), False, relative
    while True:
        if rest.startswith("../") or rest == "..":
            base, dropped_colon = _chop_last(base)
            colon = colon or dropped_colon
            rest = rest[3:]
        elif rest.startswith("./"):
            rest = rest[2:]
        elif rest == ".":
            rest = ""
        else:
            break
    if not rest:
        return base + (":" if colon else "")
    return f"{base}{':' if colon else '/'}{rest}"


def _chop_last(url: str) -> tuple[str, bool]:
    """git's ``chop_last_dir``: ``url`` without its last component, and whether that
    component followed a ``:`` (scp-style) rather than a ``/``."""
    scheme = SCHEME_RE.match(url)
    floor = url.find("/", scheme.end()) if scheme else 0  # never into scheme://host
    slash = url.rfind("/")
    if slash > 0 and (not scheme or slash >= floor > 0):
        return url[:slash], False
    colon = url.rfind(":")
    if not scheme and colon > 0:
        return url[:colon], True
    raise RelativeUrlError(f"cannot go above {redact_url(url)!r}")


def is_relative_path(url: str) -> bool:
    """A local path that depends on the manifest's folder (not absolute, not ``~``)."""
    return classify(url) == "local" and not url.startswith(("/", "~"))


def default_remote(folder: Path) -> str | None:
    """The URL of the default remote of the repository holding ``folder`` (as configured,
    credentials included: callers redact), or None when it has none."""
    names = _lines(folder, "remote")
    if not names:
        return None
    branch = _out(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    upstream = _out(folder, "config", f"branch.{branch}.remote") if branch else None
    name = next((n for n in (upstream, "origin") if n in names), names[0])
    url = _out(folder, "config", f"remote.{name}.url")
    if url and is_relative_path(url):  # `git remote add origin ../exp`: relative to the repo
        top = _out(folder, "rev-parse", "--show-toplevel")
        url = os.path.normpath(Path(top or folder) / url)
    return url or None


def fetch_url(url: str, base_dir: Path | None) -> str:
    """The URL to fetch ``url`` from: a relative path that does not exist here resolves
    against the remote of the manifest's repository (rule 2); anything else is kept."""
    if base_dir is None or not is_relative_path(url) or (base_dir / url).exists():
        return url
    resolved = _against_remote(url, base_dir, keep_credentials=True)
    return resolved if resolved is not None else url


def shareable_url(url: str, base_dir: Path | None) -> ShareableUrl:
    """What a run records for ``url`` (the rules in the module docstring)."""
    if classify(url) not in ("local", "file"):
        return ShareableUrl(redact_url(url))
    if base_dir is not None and is_relative_path(url):
        resolved = _against_remote(url, base_dir, keep_credentials=False)
        if resolved is not None:
            return ShareableUrl(resolved)
    path = local_path(url, base_dir)
    if path is not None and path.is_dir():
        own = default_remote(path)
        if own is not None:
            return ShareableUrl(redact_url(own))
    return ShareableUrl(str(path if path is not None else url), local_only=True)


def _against_remote(url: str, base_dir: Path, *, keep_credentials: bool) -> str | None:
    """Rule 2, or None when the manifest's folder is in no repository with a remote."""
    top = _out(base_dir, "rev-parse", "--show-toplevel") if base_dir.is_dir() else None
    remote = default_remote(base_dir) if top else None
    if top is None or remote is None:
        return None
    target = os.path.normpath(base_dir.resolve() / url)
    relative = os.path.relpath(target, Path(top).resolve())
    if relative != "." and not relative.startswith(".."):
        return None  # a folder inside the workspace's repository: another repo there
    try:
        joined = join_relative(remote, Path(relative).as_posix())
    except RelativeUrlError:
        return None
    return joined if keep_credentials else redact_url(joined)


def folder_repo(folder: Path) -> FolderRepo | None:
    """The repository holding ``folder`` with its HEAD commit, dirty flag and shareable
    URL; None outside a repository or before its first commit."""
    top = _out(folder, "rev-parse", "--show-toplevel")
    commit = _out(folder, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") if top else None
    if top is None or commit is None:
        return None
    root = Path(top)
    status = _out(folder, "status", "--porcelain", "--untracked-files=no")
    remote = default_remote(root)
    url = ShareableUrl(redact_url(remote)) if remote else ShareableUrl(str(root), local_only=True)
    inside = os.path.relpath(folder.resolve(), root.resolve())
    return FolderRepo(root, commit, bool(status), url, inside.replace(os.sep, "/"))


def _out(folder: Path, *args: str) -> str | None:
    try:
        return _git.run(["-C", str(folder), *args]).strip() or None
    except (_git.GitFailed, OSError):
        return None


def _lines(folder: Path, *args: str) -> list[str]:
    out = _out(folder, *args)
    return out.splitlines() if out else []
