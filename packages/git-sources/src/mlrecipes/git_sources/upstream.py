"""Has a branch moved upstream? Cheap questions asked without a fetch.

* :func:`remote_heads`: ``git ls-remote`` of each branch, in parallel, each
  bounded by a timeout (``workspace status``): what the remote has now;
* :func:`mirror_head`: the commit the mirror's last fetch saw for a branch (no
  network, one local git call): what ``run`` can tell for free;
* :func:`commits_between`: how many commits a lock is behind, when the mirror
  has both ends.

A rev that is a tag or a SHA never moves: these answer None for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.git_sources import _git, mirror
from mlrecipes.git_sources.errors import GitSourceError
from mlrecipes.git_sources.spec import SourceSpec, is_full_sha


@dataclass(frozen=True)
class RemoteHead:
    """What ``ls-remote`` said of one source's rev: its branch head, or why it cannot say."""

    name: str
    head: str | None  # None: the rev is no branch there (a tag or a SHA), or an error
    error: str | None = None


def remote_heads(specs: Sequence[SourceSpec], *, timeout: float) -> list[RemoteHead]:
    """The upstream head of each spec's branch, asked side by side; results in spec order."""
    if not specs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(specs)), thread_name_prefix="ls-remote") as pool:
        return list(pool.map(lambda spec: _remote_head(spec, timeout), specs))


def _remote_head(spec: SourceSpec, timeout: float) -> RemoteHead:
    if is_full_sha(spec.rev):
        return RemoteHead(spec.name, None)
    try:
        remote = mirror.remote_of(spec)
        # The stdlib rule (any `helper::` transport, ext://) plus git's own refusal of
        # ext, not GitPython's check: `workspace status` must not import GitPython
        # (issue 11), and ls-remote, unlike a fetch, is all it asks of the remote.
        _git.check_protocol(remote.fetch_url, remote.shown)
        out = _git.run(
            ["-c", "protocol.ext.allow=never", "ls-remote", "--heads", "--", remote.fetch_url,
             f"refs/heads/{spec.rev}"],
            env=remote.git_env(), secrets=remote.secrets, timeout=timeout,
        )  # fmt: skip
    except GitSourceError as exc:
        return RemoteHead(spec.name, None, exc.message)
    except _git.GitFailed as exc:
        return RemoteHead(spec.name, None, _reason(exc))
    sha = out.split("\t", 1)[0].strip()
    return RemoteHead(spec.name, sha if is_full_sha(sha) else None)


def _reason(exc: _git.GitFailed) -> str:
    """git's own words for why (its first ``fatal:`` line; the rest is boilerplate)."""
    lines = [ln.strip() for ln in exc.stderr.splitlines() if ln.strip()]
    fatal = [ln.removeprefix("fatal: ") for ln in lines if ln.startswith("fatal:")]
    return (fatal or lines or [str(exc)])[0]


def _mirror_path(spec: SourceSpec, cache_dir: Path) -> Path | None:
    try:
        path = mirror.mirror_dir(cache_dir, mirror.remote_of(spec).key)
    except GitSourceError:
        return None
    return path if (path / "HEAD").is_file() else None


def mirror_head(spec: SourceSpec, *, cache_dir: Path) -> str | None:
    """The commit of branch ``spec.rev`` as the mirror last fetched it; None if no branch.

    Read from the ref files themselves (loose, then ``packed-refs``), not with a
    git process: ``run`` asks this for every branch, every time.
    """
    path = _mirror_path(spec, cache_dir)
    if path is None or is_full_sha(spec.rev):
        return None
    ref = f"refs/heads/{spec.rev}"  # a checked rev: no '..', no leading '-' (check_safe)
    try:
        sha = (path / ref).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        sha = _packed(path, ref) or ""
    return sha if is_full_sha(sha) else None


def _packed(mirror_path: Path, ref: str) -> str | None:
    try:
        lines = (mirror_path / "packed-refs").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return None


def commits_between(spec: SourceSpec, old: str, new: str, *, cache_dir: Path) -> int | None:
    """How many commits ``new`` has that ``old`` has not; None if the mirror lacks either."""
    path = _mirror_path(spec, cache_dir)
    if path is None or not (is_full_sha(old) and is_full_sha(new)):
        return None
    try:
        out = _git.run(["rev-list", "--count", f"{old}..{new}", "--"], cwd=path)
    except _git.GitFailed:
        return None
    return int(out.strip()) if out.strip().isdigit() else None


def default_branch(spec: SourceSpec, *, timeout: float) -> str:
    """The branch the repository's ``HEAD`` points at (``git ls-remote --symref``,
    for a local folder as for a remote); ``spec.rev`` is ignored.

    Raises :class:`GitSourceError` when the repository cannot be asked or its
    ``HEAD`` is no branch.
    """
    remote = mirror.remote_of(spec)
    _git.check_protocol(remote.fetch_url, remote.shown)
    try:
        out = _git.run(
            ["-c", "protocol.ext.allow=never", "ls-remote", "--symref", "--", remote.fetch_url,
             "HEAD"],
            env=remote.git_env(), secrets=remote.secrets, timeout=timeout,
        )  # fmt: skip
    except _git.GitFailed as exc:
        raise GitSourceError(
            f"cannot ask {remote.shown} for its default branch: {_reason(exc)}",
            hint="check the URL (a local path is relative to the manifest's folder)",
        ) from None
    for line in out.splitlines():
        ref, _, target = line.partition("\t")
        if target == "HEAD" and ref.startswith("ref: refs/heads/"):
            return ref.removeprefix("ref: refs/heads/")
    raise GitSourceError(
        f"{remote.shown} has no default branch (its HEAD is detached or it has no commits)",
        hint="give the rev with --repo NAME=URL@REV",
    )
