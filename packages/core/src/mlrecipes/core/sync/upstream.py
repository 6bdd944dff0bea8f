"""Whether the branches the lock pins have moved upstream, and what changed on update.

``workspace status`` asks each remote (``git ls-remote``, in parallel, bounded
by a timeout, skipped offline) and records what it saw in
``.mlrecipes/upstream.json``; ``run`` then says for free, from that record and
from what the mirror's last fetch saw, when the lock is behind.
``workspace update`` reports ``old -> new`` with the number of commits between.
Only repos whose rev is a branch can move: tags and SHAs are never asked about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.atomic import write_json_atomic
from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.sync.lock import lock_path_for, read_lock
from mlrecipes.core.sync.workspace_sync import source_spec
from mlrecipes.git_sources import (
    SourceSpec,
    commits_between,
    default_cache_dir,
    mirror_head,
    remote_heads,
)

DEFAULT_TIMEOUT = 3.0  # seconds per remote; they are asked side by side


@dataclass(frozen=True)
class Upstream:
    """One locked repo against its branch upstream."""

    repo: str
    rev: str
    locked: str
    head: str | None  # the branch's head upstream (None: not a branch, or not known)
    behind: int | None = None  # commits from locked to head, when the mirror has both
    error: str | None = None  # why the remote could not be asked

    @property
    def moved(self) -> bool:
        """The branch has commits the lock lacks (a head the lock already contains is old news)."""
        return self.head is not None and self.head != self.locked and self.behind != 0


@dataclass(frozen=True)
class CommitChange:
    """What ``workspace update`` did to one repo's pin."""

    repo: str
    old: str | None
    new: str
    commits: int | None  # commits from old to new, when known
    refs: tuple[tuple[str, str | None, str], ...] = ()
    """Moved git references of the repo's own dependencies: (``URL@ref``, old, new)."""


def _candidates(manifest: Manifest) -> dict[str, tuple[SourceSpec, str]]:
    """Locked, non-dev repos with their source spec and locked commit."""
    lock = read_lock(lock_path_for(manifest.path))
    found: dict[str, tuple[SourceSpec, str]] = {}
    for name, repo in sorted(manifest.repos.items()):
        entry = lock.repos.get(name) if lock else None
        if entry is None or name in manifest.dev_paths or entry.rev != repo.rev:
            continue
        try:
            found[name] = (source_spec(manifest, repo), entry.commit)
        except UserError:  # an !env URL whose variable is not set: nothing to ask
            continue
    return found


def check_upstream(
    manifest: Manifest, *, offline: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> list[Upstream]:
    """Each locked branch against its remote (or, offline, against the last fetch)."""
    if offline:
        return known_upstream(manifest)
    candidates = _candidates(manifest)
    cache = default_cache_dir()
    answers = remote_heads([spec for spec, _ in candidates.values()], timeout=timeout)
    rows = []
    for answer in answers:
        spec, locked = candidates[answer.name]
        rows.append(_row(spec, locked, answer.head, cache, error=answer.error))
    _record(manifest, {r.repo: (r.rev, r.head) for r in rows if r.error is None})
    return rows


def known_upstream(manifest: Manifest) -> list[Upstream]:
    """What is known without network: the last ``status`` and the mirror's last fetch."""
    seen = _read_record(manifest)
    cache = default_cache_dir()
    rows = []
    for name, (spec, locked) in _candidates(manifest).items():
        heads = [mirror_head(spec, cache_dir=cache)]
        recorded = seen.get(name)
        if recorded is not None and recorded[0] == spec.rev:
            heads.append(recorded[1])  # what `status` saw, maybe newer than any fetch
        known = [_row(spec, locked, head, cache) for head in heads if head is not None]
        if known:
            rows.append(next((row for row in known if row.moved), known[0]))
    return rows


def _row(
    spec: SourceSpec, locked: str, head: str | None, cache: Path, *, error: str | None = None
) -> Upstream:
    behind = None
    if head is not None and head != locked:
        behind = commits_between(spec, locked, head, cache_dir=cache)
    return Upstream(spec.name, spec.rev, locked, head, behind, error)


def _record_path(manifest: Manifest) -> Path:
    return WorkspacePaths.for_manifest(manifest).upstream_record


def _read_record(manifest: Manifest) -> dict[str, tuple[str, str]]:
    try:
        data = json.loads(_record_path(manifest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        name: (entry["rev"], entry["head"])
        for name, entry in data.items()
        if isinstance(entry, dict) and isinstance(entry.get("head"), str)
    }


def _record(manifest: Manifest, heads: Mapping[str, tuple[str, str | None]]) -> None:
    path = _record_path(manifest)
    if not path.parent.is_dir():
        return  # never synced: nothing to remember for
    data = {**{k: {"rev": r, "head": h} for k, (r, h) in _read_record(manifest).items()}}
    for name, (rev, head) in heads.items():
        if head is None:
            data.pop(name, None)
        else:
            data[name] = {"rev": rev, "head": head}
    write_json_atomic(path, data, sort_keys=True)  # two statuses may race


def locked_commits(manifest: Manifest) -> dict[str, str]:
    """Repo -> the commit the lock pins now (before an update rewrites it)."""
    lock = read_lock(lock_path_for(manifest.path))
    return {name: entry.commit for name, entry in (lock.repos.items() if lock else ())}


def locked_git_refs(manifest: Manifest) -> dict[str, Mapping[str, str]]:
    """Repo -> the commits the lock pins for its own moving git dependencies."""
    lock = read_lock(lock_path_for(manifest.path))
    return {name: entry.git_refs for name, entry in (lock.repos.items() if lock else ())}


def _moved_refs(
    old: Mapping[str, str], new: Mapping[str, str]
) -> tuple[tuple[str, str | None, str], ...]:
    return tuple(
        (key, old.get(key), commit) for key, commit in sorted(new.items()) if old.get(key) != commit
    )


def commit_changes(
    manifest: Manifest,
    old: Mapping[str, str],
    new: Mapping[str, str],
    old_refs: Mapping[str, Mapping[str, str]] | None = None,
    new_refs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[CommitChange]:
    """``old -> new`` per repo in ``new``, with the number of commits between and the
    moved git references of its own dependencies (from the locks before and after)."""
    cache = default_cache_dir()
    changes = []
    for name, commit in new.items():
        before = old.get(name)
        count = None
        if before is not None and before != commit and name in manifest.repos:
            try:
                spec = source_spec(manifest, manifest.repos[name])
            except UserError:
                spec = None
            if spec is not None:
                count = commits_between(spec, before, commit, cache_dir=cache)
        refs = _moved_refs((old_refs or {}).get(name, {}), (new_refs or {}).get(name, {}))
        changes.append(CommitChange(name, before, commit, 0 if before == commit else count, refs))
    return changes
