"""The mirror cache: one bare repository per normalized URL, shared by every workspace.

``<cache_dir>/git/<readable-slug>-<hash>`` holds all the objects fetched from
one remote. Rules (west's auto-cache and pre-commit's store do the same):

* no network when the wanted commit is already there (a pinned commit, a full
  SHA, a short SHA or a tag found in the mirror); a branch is a moving rev, so
  resolving an unpinned branch fetches to see its latest commit;
* a fetch asks for the exact rev first (``git fetch <url> <rev>``), then falls
  back to every branch and tag;
* a file lock per mirror serializes syncs from several workspaces or processes;
* a mirror is initialized in a temporary folder beside it and renamed into
  place, so a killed first clone leaves nothing that looks like a mirror; a
  fetch killed later leaves a valid (older) mirror that the next fetch completes.

Inline credentials are handed to git by a one-off credential helper (see
:mod:`._git`): the mirror's config only ever holds the redacted URL.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlrecipes.git_sources import _git
from mlrecipes.git_sources.commits import short_commit
from mlrecipes.git_sources.errors import NotARepositoryError, RemoteError, RevNotFoundError
from mlrecipes.git_sources.spec import SourceSpec, check_safe, is_full_sha
from mlrecipes.git_sources.urls import (
    Credentials,
    local_path,
    normalize_url,
    redact_url,
    split_credentials,
)

_AUTH_MARKERS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied",
    "http 401",
    "http 403",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
)


def default_cache_dir() -> Path:
    """``$MLRECIPES_CACHE_DIR``, else ``~/.cache/mlrecipes``."""
    env = os.environ.get("MLRECIPES_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mlrecipes"


@dataclass(frozen=True)
class Remote:
    """Where to fetch from: the mirror key, the URL to show, the URL to fetch and credentials."""

    key: str
    shown: str
    fetch_url: str
    creds: Credentials | None = field(default=None, repr=False)
    local: Path | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings to scrub from git's output (a token may be the username)."""
        if self.creds is None:
            return ()
        return (self.creds.password,) if self.creds.password else (self.creds.username,)

    def git_env(self) -> dict[str, str]:
        """Extra environment for commands talking to this remote."""
        return _git.credential_env(self.creds)


def remote_of(spec: SourceSpec) -> Remote:
    """The :class:`Remote` of a (safe) spec; a local path must be a git repository."""
    check_safe(spec)
    path = local_path(spec.url, spec.base_dir)
    if path is not None:
        return Remote(key=str(path), shown=str(path), fetch_url=str(path), local=path)
    fetch_url, creds = split_credentials(spec.url)
    key = normalize_url(spec.url)
    return Remote(key=key, shown=redact_url(spec.url), fetch_url=fetch_url, creds=creds)


def mirrors_dir(cache_dir: Path) -> Path:
    """``<cache_dir>/git``: the folder of every bare mirror."""
    return cache_dir / "git"


def mirror_dir(cache_dir: Path, key: str) -> Path:
    """``<cache_dir>/git/<slug>-<hash>`` for a normalized URL ``key``."""
    tail = "-".join(key.rstrip("/").split("/")[-2:])
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.")[:48] or "repo"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return mirrors_dir(cache_dir) / f"{slug}-{digest}"


@contextmanager
def locked_mirror(cache_dir: Path, remote: Remote) -> Iterator[Path]:
    """The mirror of ``remote``, created if needed, held under its file lock."""
    from filelock import FileLock  # on first use: a CLI command that syncs nothing skips it

    path = mirror_dir(cache_dir, remote.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not (path / "HEAD").is_file():
            _create(path, remote)
        yield path


def _create(path: Path, remote: Remote) -> None:
    """Initialize a bare mirror beside ``path`` and rename it into place (under the lock)."""
    for stale in path.parent.glob(f"{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed sync
    if path.exists():
        shutil.rmtree(path)  # a folder without HEAD is no mirror
    tmp = path.parent / f"{path.name}.tmp-{secrets.token_hex(4)}"
    try:
        _git.run(["init", "--bare", "--quiet", "--template=", str(tmp)])  # no sample hooks
        _git.run(["config", "remote.origin.url", remote.shown], cwd=tmp)
        # Never prune: a pinned commit may be reachable from no branch any more.
        _git.run(["config", "gc.pruneExpire", "never"], cwd=tmp)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_in_mirror(mirror: Path, remote: Remote, name: str, rev: str) -> str:
    """The commit of ``rev``; fetches unless it is an immutable rev already in the mirror."""
    found = _git.lookup(mirror, rev)
    if found is not None and found[1] != "branch":
        return found[0]
    _fetch(mirror, remote, rev)
    found = _git.lookup(mirror, rev)
    if found is None:
        branches, tags = _git.branches_and_tags(mirror)
        raise RevNotFoundError(
            name=name,
            url=remote.shown,
            rev=rev,
            candidates=nearest(rev, [*branches, *tags]),
            branches=branches,
            tags=tags,
        )
    return found[0]


def ensure_commit(mirror: Path, remote: Remote, name: str, commit: str) -> None:
    """Make sure the pinned ``commit`` is in the mirror; no network when it already is."""
    if _git.has_commit(mirror, commit):
        return
    _fetch(mirror, remote, commit)
    if not _git.has_commit(mirror, commit):
        raise RevNotFoundError(name=name, url=remote.shown, rev=short_commit(commit), candidates=())


def nearest(rev: str, names: list[str]) -> list[str]:
    """Up to three branch or tag names close to ``rev``."""
    return difflib.get_close_matches(rev, names, n=3, cutoff=0.5)


def _fetch(mirror: Path, remote: Remote, rev: str) -> None:
    """Fetch ``rev`` exactly, else every branch and tag; RemoteError if both fail."""
    _git.check_fetch_url(remote.fetch_url, remote.shown)
    # Checked only now: a pinned commit already in the mirror needs no upstream at all.
    if remote.local is not None and not _git.is_repository(remote.local):
        raise NotARepositoryError(
            f"{remote.shown} is not a git repository",
            path=remote.local,
            hint="point url at the folder that holds .git (or at a bare repository)",
        )
    try:
        _fetch_exact(mirror, remote, rev)
        return
    except _git.GitFailed:
        pass  # unknown name, a short SHA, or a server refusing SHA wants: fetch all
    try:
        _git.run(
            ["fetch", "--quiet", "--no-tags", "--", remote.fetch_url,
             "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            cwd=mirror, env=remote.git_env(), secrets=remote.secrets,
        )  # fmt: skip
    except _git.GitFailed as exc:
        raise remote_error(remote, exc) from None


def _fetch_exact(mirror: Path, remote: Remote, rev: str) -> None:
    """``git fetch <url> <rev>``, then record what came as a ref so later lookups find it."""
    _git.run(
        ["fetch", "--quiet", "--no-tags", "--", remote.fetch_url, rev],
        cwd=mirror, env=remote.git_env(), secrets=remote.secrets,
    )  # fmt: skip
    line = (mirror / "FETCH_HEAD").read_text().splitlines()[0]
    sha, _, description = line.split("\t", 2)
    if description.startswith("branch '"):
        ref = f"refs/heads/{rev}"
    elif description.startswith("tag '"):
        ref = f"refs/tags/{rev}"
    elif is_full_sha(rev):
        ref = f"refs/mlrecipes/commits/{rev}"  # keeps it reachable
    else:
        raise _git.GitFailed("git fetch", 1, f"{rev} is neither a branch nor a tag")
    _git.run(["update-ref", ref, sha], cwd=mirror)


def remote_error(remote: Remote, exc: _git.GitFailed) -> RemoteError:
    """A RemoteError from a failed fetch; git's (redacted) last lines say why."""
    text = exc.stderr.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = "; ".join(lines[-2:]) or f"git exited with {exc.returncode}"
    auth = any(marker in text.lower() for marker in _AUTH_MARKERS)
    hint = (
        "credentials were refused or are missing: put them in the URL through !env, "
        "or configure a git credential helper"
        if auth
        else "check the URL, the network and that the repository exists"
    )
    message = f"cannot fetch {remote.shown}: {detail}"
    return RemoteError(message, url=remote.shown, auth=auth, hint=hint)
