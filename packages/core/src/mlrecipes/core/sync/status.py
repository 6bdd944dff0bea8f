"""``workspace status``: what is checked out and built, against the lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlrecipes.core.envs import EnvSpec, environment_status
from mlrecipes.core.envs.spec import GitPin, UsedRepo
from mlrecipes.core.errors import EnvironmentBuildError
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.sync.git_pins import current_commit, lock_key, refs_of
from mlrecipes.core.sync.lock import LockedRepo, lock_path_for, read_lock
from mlrecipes.git_sources import GitSourceError, checkout_state, default_cache_dir

CheckoutState = Literal["missing", "clean", "dirty", "wrong-commit", "unlocked", "dev"]
EnvState = Literal["ready", "stale", "missing", "failed"]


@dataclass(frozen=True)
class RepoStatus:
    repo: str
    rev: str
    subdir: str | None
    locked_commit: str | None
    checkout: CheckoutState
    environment: EnvState


def _project_dir(manifest: Manifest, paths: WorkspacePaths, name: str) -> Path:
    repo = manifest.repos[name]
    root = manifest.dev_paths.get(name) or paths.checkouts / name
    return root / repo.subdir if repo.subdir else root


def _env_state(
    manifest: Manifest, paths: WorkspacePaths, name: str, entry: LockedRepo | None
) -> EnvState:
    """The environment's state for the spec sync would build: with the repos it uses
    and its git dependencies at the lock's commits; ``stale`` too when one of those
    moved upstream (a branch got new commits: `workspace update` rebuilds)."""
    uses = tuple(
        UsedRepo(used, _project_dir(manifest, paths, used))
        for used in manifest.code_repos(name)[1:]
    )
    project = _project_dir(manifest, paths, name)
    try:
        refs = refs_of(name, project, uses)
    except EnvironmentBuildError:
        return "failed"
    locked = dict(entry.git_refs) if entry else {}
    pins = tuple(GitPin(r, locked[lock_key(r)]) for r in refs if lock_key(r) in locked)
    if len(pins) < len(refs):
        return "stale"  # a git dependency the lock does not know yet
    spec = EnvSpec(name, project, manifest.repos[name].python, uses=uses, git_pins=pins)
    state = environment_status(spec, envs_dir=paths.envs)
    if state == "ready" and _moved(name, pins):
        return "stale"
    return state


def _moved(repo: str, pins: tuple[GitPin, ...]) -> bool:
    """Whether a pinned git dependency's branch or tag now names another commit."""
    for pin in pins:
        try:
            if current_commit(repo, pin.ref, cache_dir=default_cache_dir()) != pin.commit:
                return True
        except GitSourceError:
            continue  # unreachable now: status does not fail for it
    return False


def workspace_status(manifest: Manifest) -> list[RepoStatus]:
    """One row per repo of the manifest, in name order.

    Runs no network call, except to ask where the branches of moving git
    dependencies (``pkg @ git+URL@main``) are now.
    """
    paths = WorkspacePaths.for_manifest(manifest)
    lock = read_lock(lock_path_for(manifest.path))
    rows: list[RepoStatus] = []
    for name in sorted(manifest.repos):
        repo = manifest.repos[name]
        entry = lock.repos.get(name) if lock else None
        checkout_dir = paths.checkouts / name
        dev = manifest.dev_paths.get(name)
        state: CheckoutState
        if dev is not None:
            state, checkout_dir = "dev", dev
        elif entry is None:
            state = "unlocked"
        else:
            state = checkout_state(checkout_dir, entry.commit)
        project = _project_dir(manifest, paths, name)
        env: EnvState = "missing"
        if project.is_dir():
            env = _env_state(manifest, paths, name, entry)
        rows.append(
            RepoStatus(
                repo=name,
                rev=repo.rev,
                subdir=repo.subdir,
                locked_commit=entry.commit if entry else None,
                checkout=state,
                environment=env,
            )
        )
    return rows
