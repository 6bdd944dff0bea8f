"""``workspace sync``: checkouts (git_sources), environments (envs) and the lock together.

Modes, like uv's ``sync``:

* ``resolve`` (default): a repo whose lock entry still matches its manifest entry
  (same url, rev, subdir) stays at the locked commit, without network when that
  commit is cached; a new or changed repo, or one named in ``update``, is resolved
  again. The lock is rewritten when anything changed.
* ``locked``: as ``resolve``, but fail instead of changing the lock.
* ``frozen``: use the lock as it is, never resolve a rev; fail when the lock does
  not cover the manifest (CI).

Repos replaced by a local working copy (``workspace.local.yaml`` or ``--dev``) are
used as they are and never written to the lock: their lock entry, if any, stays.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlrecipes.core.envs import Environment, EnvSpec, ensure_environments
from mlrecipes.core.envs.parallel import BuildFailure
from mlrecipes.core.errors import LockError, UserError
from mlrecipes.core.events import EventHandler, LockWritten, RepoProgress, ignore
from mlrecipes.core.lock import Lock, LockedRepo, lock_path_for, read_lock, write_lock
from mlrecipes.core.manifest import EnvRef, Manifest, RepoSpec
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.git_sources import (
    Resolved,
    SourceEvent,
    SourceSpec,
    default_cache_dir,
    dev_source,
    redact_url,
    sync_sources,
)

SyncMode = Literal["resolve", "locked", "frozen"]


@dataclass(frozen=True)
class RepoContext:
    """A repo ready to run steps: its checkout and its environment."""

    name: str
    source: Resolved
    env: Environment
    pycache: Path | None = None
    """Where a dev copy's steps write bytecode: outside it, so running never changes its tree."""


@dataclass(frozen=True)
class SyncResult:
    repos: Mapping[str, RepoContext]
    lock: Lock
    lock_changed: bool


def source_spec(manifest: Manifest, repo: RepoSpec) -> SourceSpec:
    """The git_sources spec of a repo, expanding an ``!env`` URL in memory only."""
    url = repo.url
    if isinstance(url, EnvRef):
        try:
            url_text = url.resolve()
        except KeyError as exc:
            raise UserError(
                f"repo {repo.name!r}: environment variable {exc.args[0]} is not set "
                f"(url: {redact_url(url.template)})",
                hint=f"export {exc.args[0]}, or give a default with ${{{exc.args[0]}:-value}}",
            ) from None
    else:
        url_text = url
    return SourceSpec(
        name=repo.name, url=url_text, rev=repo.rev, subdir=repo.subdir, base_dir=manifest.root
    )


def _pins(
    manifest: Manifest,
    specs: Mapping[str, SourceSpec],
    lock: Lock | None,
    mode: SyncMode,
    update: Collection[str],
) -> dict[str, str]:
    pins: dict[str, str] = {}
    uncovered: list[str] = []
    for name, spec in specs.items():
        entry = lock.repos.get(name) if lock else None
        covered = entry is not None and entry.covers(
            url=lock_url(manifest.repos[name]), rev=spec.rev, subdir=spec.subdir
        )
        if entry is not None and covered and name not in update:
            pins[name] = entry.commit
        elif mode == "frozen":
            uncovered.append(name)
    if uncovered:
        path = lock_path_for(manifest.path)
        raise LockError(
            f"{path.name} does not cover repo(s) {', '.join(sorted(uncovered))} "
            "as the manifest names them (url, rev and subdir)",
            path=path,
            hint="run `mlrecipes workspace sync` without --frozen and commit workspace.lock",
        )
    return pins


def _build_envs(
    manifest: Manifest,
    sources: Mapping[str, Resolved],
    paths: WorkspacePaths,
    jobs: int | None,
    on_event: EventHandler,
) -> dict[str, Environment]:
    specs = [
        EnvSpec(repo=name, project_dir=src.project_dir, python=manifest.repos[name].python)
        for name, src in sources.items()
    ]
    for spec in specs:
        on_event(RepoProgress(spec.repo, "building-env"))
    built = ensure_environments(specs, envs_dir=paths.envs, jobs=jobs)
    # Any non-Environment is a per-repo failure: a build error or a missing Python.
    failures: list[BuildFailure] = []
    envs: dict[str, Environment] = {}
    for name, value in built.items():
        if isinstance(value, Environment):
            envs[name] = value
            on_event(RepoProgress(name, "ready"))
        else:
            failures.append(value)
            on_event(RepoProgress(name, "failed", value.message))
    if failures:
        raise failures[0]
    return envs


def _refuse_unpinned(
    specs: Mapping[str, SourceSpec], pins: Mapping[str, str], skip: Collection[str], path: Path
) -> None:
    """``--locked``: a repo the lock does not cover would change it; fail before any checkout."""
    changed = sorted(n for n in specs if n not in pins and n not in skip)
    if changed:
        raise LockError(
            f"{path.name} would change for repo(s) {', '.join(changed)}",
            path=path,
            hint="run `mlrecipes workspace sync` (without --locked) and commit workspace.lock",
        )


def lock_url(repo: RepoSpec) -> str:
    """The URL as the lock and MLflow keep it: as written, credentials removed.

    A local path stays relative to the manifest, so the lock works on every machine.
    """
    return redact_url(repo.url_template)


def _new_lock(
    manifest: Manifest,
    old: Lock | None,
    sources: Mapping[str, Resolved],
    envs: Mapping[str, Environment],
    dev: Collection[str],
) -> Lock:
    repos: dict[str, LockedRepo] = {}
    for name, src in sources.items():
        if name in dev:
            if old is not None and name in old.repos:
                repos[name] = old.repos[name]
            continue
        repos[name] = LockedRepo(
            url=lock_url(manifest.repos[name]),
            rev=src.rev,
            commit=src.commit,
            subdir=src.subdir,
            tree=src.tree,
            env=envs[name].deps_hash,
        )
    return Lock(repos=repos)


def _lock_diff(old: Lock | None, new: Lock) -> list[str]:
    old_repos = old.repos if old else {}
    names = sorted(set(old_repos) | set(new.repos))
    return [n for n in names if old_repos.get(n) != new.repos.get(n)]


def sync_workspace(
    manifest: Manifest,
    *,
    mode: SyncMode = "resolve",
    update: Collection[str] = (),
    dev: Mapping[str, Path] | None = None,
    jobs: int | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    on_event: EventHandler = ignore,
) -> SyncResult:
    """Check out every repo at its commit, build its environment, write the lock."""
    paths = WorkspacePaths.for_manifest(manifest)
    paths.ensure()
    dev_paths = {**manifest.dev_paths, **(dev or {})}
    unknown = sorted(set(update) - set(manifest.repos)) + sorted(
        set(dev_paths) - set(manifest.repos)
    )
    if unknown:
        from mlrecipes.core._suggest import did_you_mean

        raise UserError(
            f"unknown repo {unknown[0]!r}", hint=did_you_mean(unknown[0], manifest.repos)
        )
    specs = {name: source_spec(manifest, repo) for name, repo in manifest.repos.items()}
    lock_path = lock_path_for(manifest.path)
    old = read_lock(lock_path)
    pins = _pins(manifest, specs, old, mode, update)
    if mode == "locked":
        _refuse_unpinned(specs, pins, {*dev_paths, *update}, lock_path)

    def relay(event: SourceEvent) -> None:
        on_event(RepoProgress(event.name, event.phase, event.message))

    remote = [spec for name, spec in specs.items() if name not in dev_paths]
    resolved = sync_sources(
        remote,
        checkouts_dir=paths.checkouts,
        cache_dir=cache_dir or default_cache_dir(),
        pinned={n: c for n, c in pins.items() if n not in dev_paths},
        update=update,
        jobs=jobs,
        force=force,
        on_event=relay,
    )
    sources = {src.name: src for src in resolved}
    for name, folder in dev_paths.items():
        sources[name] = dev_source(name, folder, manifest.repos[name].subdir)
    sources = {name: sources[name] for name in sorted(sources)}
    envs = _build_envs(manifest, sources, paths, jobs, on_event)
    new = _new_lock(manifest, old, sources, envs, dev_paths)
    changed = _lock_diff(old, new)
    if mode == "locked" and changed:
        raise LockError(
            f"{lock_path.name} would change for repo(s) {', '.join(changed)}",
            path=lock_path,
            hint="run `mlrecipes workspace sync` (without --locked) and commit workspace.lock",
        )
    written = False
    if mode != "frozen":
        written = write_lock(lock_path, new)
        on_event(LockWritten(str(lock_path), written))
    final = new if mode != "frozen" else (old or new)
    pycache = paths.state / "pycache"
    repos = {
        n: RepoContext(n, sources[n], envs[n], pycache if n in dev_paths else None) for n in sources
    }
    return SyncResult(repos=repos, lock=final, lock_changed=written)


def sync_mode(*, locked: bool = False, frozen: bool = False) -> SyncMode:
    """The mode that ``--locked`` / ``--frozen`` ask for (they exclude each other)."""
    if locked and frozen:
        raise UserError("--locked and --frozen exclude each other", hint="give one of them")
    return "frozen" if frozen else "locked" if locked else "resolve"
