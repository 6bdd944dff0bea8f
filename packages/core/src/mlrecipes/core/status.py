"""``workspace status``: what is checked out and built, against the lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlrecipes.core.envs import EnvSpec, environment_status
from mlrecipes.core.lock import lock_path_for, read_lock
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.git_sources import checkout_state

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


def workspace_status(manifest: Manifest) -> list[RepoStatus]:
    """One row per repo of the manifest, in name order; runs no network call."""
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
        project = checkout_dir / repo.subdir if repo.subdir else checkout_dir
        env: EnvState = "missing"
        if project.is_dir():
            spec = EnvSpec(repo=name, project_dir=project, python=repo.python)
            env = environment_status(spec, envs_dir=paths.envs)
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
