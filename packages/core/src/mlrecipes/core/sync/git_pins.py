"""Resolving the moving git references of a repo's own dependencies, for sync and status.

A repo's ``requirements.txt`` or ``pyproject.toml`` may ask for ``pkg @
git+URL@main``. Sync resolves each such reference to a commit once and records
it in the lock (``git_refs``); later syncs reuse the lock's commit, so the
environment does not change behind the user's back. ``workspace update``
resolves them again (a new commit builds a new environment: the commits are
part of its key); ``workspace status`` shows an environment whose references
moved as stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlrecipes.core.envs import moving_refs, used_names
from mlrecipes.core.envs.installed import normalize
from mlrecipes.core.envs.spec import EnvSpec, GitPin, GitRef, UsedRepo, detect
from mlrecipes.git_sources import SourceSpec, redact_url, resolve_rev


def refs_of(repo: str, project_dir: Path, uses: tuple[UsedRepo, ...] = ()) -> list[GitRef]:
    """The moving git references of the project at ``project_dir``, but those naming a
    used repo's distribution: the workspace pin replaces them, they are never resolved."""
    skip = used_names(uses)
    refs = moving_refs(detect(EnvSpec(repo=repo, project_dir=project_dir)))
    return [r for r in refs if normalize(r.name) not in skip]


def lock_key(ref: GitRef) -> str:
    """How the lock names a reference: its URL without credentials, ``@ref``."""
    return f"{redact_url(ref.url)}@{ref.ref}"


def resolve_pins(
    repo: str,
    refs: list[GitRef],
    locked: Mapping[str, str],
    *,
    update: bool,
    cache_dir: Path,
) -> tuple[GitPin, ...]:
    """Each reference at the lock's commit, or resolved now (new, or ``update``)."""
    pins = []
    for ref in refs:
        commit = None if update else locked.get(lock_key(ref))
        if commit is None:
            commit = current_commit(repo, ref, cache_dir=cache_dir)
        pins.append(GitPin(ref, commit))
    return tuple(pins)


def current_commit(repo: str, ref: GitRef, *, cache_dir: Path) -> str:
    """The commit ``ref`` names upstream right now (fetched into the mirror cache)."""
    name = f"{repo}-dep-{ref.name}"
    return resolve_rev(SourceSpec(name=name, url=ref.url, rev=ref.ref), cache_dir=cache_dir)


def pins_record(pins: tuple[GitPin, ...]) -> dict[str, str]:
    """What the lock keeps of ``pins``."""
    return {lock_key(p.ref): p.commit for p in pins}
