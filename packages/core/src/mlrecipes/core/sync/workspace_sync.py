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

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlrecipes.core.envs import Environment
from mlrecipes.core.envs.parallel import BuildFailure
from mlrecipes.core.errors import EnvironmentBuildError, LockError, UserError
from mlrecipes.core.events import EventHandler, LockWritten, RepoProgress, ignore
from mlrecipes.core.manifest import EnvRef, Manifest, RepoSpec
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.sync.env_identity import EnvIdentity
from mlrecipes.core.sync.git_pins import pins_record
from mlrecipes.core.sync.lock import Lock, LockedRepo, lock_path_for, read_lock, write_lock
from mlrecipes.core.sync.repo_envs import BuiltEnv, EnvOptions, build_envs
from mlrecipes.git_sources import (
    GitSourceError,
    Resolved,
    SourceEvent,
    SourceSpec,
    checkout_state,
    default_cache_dir,
    dev_source,
    fetch_url,
    hold_checkouts,
    redact_url,
    short_commit,
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
    identity: EnvIdentity | None = None
    """The code installed in its environment; None only for contexts built by hand (tests)."""

    @property
    def env_hash(self) -> str:
        """What step fingerprints hold of the environment: its identity."""
        return self.identity.digest if self.identity is not None else self.env.deps_hash


@dataclass(frozen=True)
class SyncResult:
    repos: Mapping[str, RepoContext]
    lock: Lock
    lock_changed: bool
    failed: Mapping[str, BuildFailure] = field(default_factory=dict)
    """Repos whose environment could not be built (with ``keep_going``)."""
    checkouts: Mapping[str, str] = field(default_factory=dict)
    """Every checkout under ``.mlrecipes/checkouts`` this sync vouched for -> its commit:
    what a run holds while its steps run (:func:`hold_checkouts`)."""

    @contextmanager
    def held(self, checkouts_dir: Path) -> Iterator[None]:
        """Hold the checkouts for a run: no sync moves them meanwhile (git_sources.in_use)."""
        with hold_checkouts(checkouts_dir, self.checkouts):
            yield


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
    # `../features.git` on a machine that has only the workspace repo's clone (a CI
    # runner, a teammate) is fetched from beside that repo's remote, as git does
    # for submodules; a folder that exists here is used as it is.
    url_text = fetch_url(url_text, manifest.root)
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
            hint="run `mlrecipes workspace sync` without `mode='frozen'` and commit workspace.lock",
        )
    return pins


def _refuse_unpinned(
    specs: Mapping[str, SourceSpec], pins: Mapping[str, str], skip: Collection[str], path: Path
) -> None:
    """``--locked``: a repo the lock does not cover would change it; fail before any checkout."""
    changed = sorted(n for n in specs if n not in pins and n not in skip)
    if changed:
        raise LockError(
            f"{path.name} would change for repo(s) {', '.join(changed)}",
            path=path,
            hint="run `mlrecipes workspace sync` (without `mode='locked'`) and commit "
            "workspace.lock",
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
    envs: Mapping[str, BuiltEnv],
    dev: Collection[str],
) -> Lock:
    """The lock after this sync: repos not synced now (dev copies, repos outside
    ``only``, failed environments) keep their old entry."""
    repos: dict[str, LockedRepo] = dict(old.repos) if old else {}
    for name in set(repos) - set(manifest.repos):
        del repos[name]
    for name, src in sources.items():
        if name in dev:
            continue
        built = envs.get(name)
        previous = repos.get(name)
        if built is None and previous is not None and previous.commit == src.commit:
            continue
        repos[name] = LockedRepo(
            url=lock_url(manifest.repos[name]),
            rev=src.rev,
            commit=src.commit,
            subdir=src.subdir,
            tree=src.tree,
            env=built.identity.digest if built else None,
            uses=manifest.code_repos(name)[1:],
            git_refs=pins_record(built.pins) if built else {},
        )
    return Lock(repos={name: repos[name] for name in sorted(repos)})


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
    only: Collection[str] | None = None,
    keep_going: bool = False,
    reinstall: Collection[str] = (),
    dry_run: bool = False,
) -> SyncResult:
    """Check out every repo at its commit, build its environment, write the lock.

    ``dry_run`` changes nothing on disk: only checkouts already clean at their
    locked commits and environments already built are used; every other repo is
    returned in ``failed`` with what a sync would do, and no lock is written.

    ``only`` limits the work to these repos and the repos they use (``run STEP``
    needs no more). A repo whose environment fails is raised once every build
    has ended, or with ``keep_going`` returned in ``failed`` (so that the steps
    of other repos still run); either way the lock is not written. ``reinstall`` names
    repos whose environments are rebuilt even when ready.
    """
    paths = WorkspacePaths.for_manifest(manifest)
    if not dry_run:
        paths.ensure()
    dev_paths = {**manifest.dev_paths, **(dev or {})}
    unknown = sorted(set(update) - set(manifest.repos)) + sorted(
        (set(dev_paths) | set(reinstall)) - set(manifest.repos)
    )
    if unknown:
        from mlrecipes.core.suggest import did_you_mean

        raise UserError(
            f"unknown repo {unknown[0]!r}", hint=did_you_mean(unknown[0], manifest.repos)
        )
    wanted = _wanted(manifest, only)
    specs = {
        name: source_spec(manifest, repo) for name, repo in manifest.repos.items() if name in wanted
    }
    lock_path = lock_path_for(manifest.path)
    old = read_lock(lock_path)
    pins = _pins(manifest, specs, old, mode, update)
    if mode == "locked":
        _refuse_unpinned(specs, pins, {*dev_paths, *update}, lock_path)

    def relay(event: SourceEvent) -> None:
        on_event(RepoProgress(event.name, event.phase, event.message))

    remote = [spec for name, spec in specs.items() if name not in dev_paths]
    pending: dict[str, BuildFailure] = {}
    if dry_run:
        remote, pending = _checked_out(remote, pins, paths.checkouts)
    cache = cache_dir or default_cache_dir()
    resolved = sync_sources(
        remote,
        checkouts_dir=paths.checkouts,
        cache_dir=cache,
        pinned={n: c for n, c in pins.items() if n not in dev_paths},
        update=update,
        jobs=jobs,
        force=force,
        on_event=relay,
    )
    sources = {src.name: src for src in resolved}
    for name, folder in dev_paths.items():
        if name in wanted:
            sources[name] = dev_source(name, folder, manifest.repos[name].subdir)
    sources = {name: sources[name] for name in sorted(sources)}
    env_options = EnvOptions(
        update=update, reinstall=reinstall, frozen=mode == "frozen", cache_dir=cache, jobs=jobs
    )
    # Path installs (`-e ../other`) may reach any checkout: a subset has them all.
    others = _other_checkouts(manifest, wanted, old, dev_paths, paths, cache, relay, dry_run)
    roots = {**others, **sources}
    envs, failed = build_envs(
        manifest, sources, paths.envs, old, env_options, on_event, roots=roots, dry_run=dry_run
    )
    failed = {**pending, **failed}
    if failed and not keep_going:
        raise next(iter(failed.values()))
    new = _new_lock(manifest, old, sources, envs, dev_paths)
    changed = _lock_diff(old, new)
    if mode == "locked" and changed:
        raise LockError(
            f"{lock_path.name} would change for repo(s) {', '.join(changed)}",
            path=lock_path,
            hint="run `mlrecipes workspace sync` (without `mode='locked'`) and commit "
            "workspace.lock",
        )
    written = False
    # The lock records what environments were built from: not after a failed build.
    if mode != "frozen" and not failed and not dry_run:
        written = write_lock(lock_path, new)
        on_event(LockWritten(str(lock_path), written))
    final = new if mode != "frozen" and not failed and not dry_run else (old or new)
    repos = _contexts(sources, envs, paths.pycache, dev_paths)
    held = {n: src.commit for n, src in roots.items() if n not in dev_paths}
    return SyncResult(repos=repos, lock=final, lock_changed=written, failed=failed, checkouts=held)


def _other_checkouts(
    manifest: Manifest,
    wanted: Collection[str],
    old: Lock | None,
    dev: Collection[str],
    paths: WorkspacePaths,
    cache: Path,
    relay: Callable[[SourceEvent], None],
    dry_run: bool = False,
) -> dict[str, Resolved]:
    """The locked repos a subset sync (``run STEP``) leaves out, checked out at their
    locked commits all the same (no network when that commit is cached): an
    environment may install one by path (``-e ../micrograd``), and its identity
    names it by repo and tree only when that checkout is known. Without this, a
    subset would change identities and the lock, and a fresh folder (``reproduce``)
    would lack the checkout. Each is best effort: its own steps do not run now."""
    found: dict[str, Resolved] = {}
    left_out = set(manifest.repos) - set(wanted) - set(dev)
    specs = {name: source_spec(manifest, manifest.repos[name]) for name in sorted(left_out)}
    pins = _pins(manifest, specs, old, "resolve", ())  # only those the lock covers
    if dry_run:
        ready, _ = _checked_out(list(specs.values()), pins, paths.checkouts)
        specs = {spec.name: spec for spec in ready}
    for name, spec in specs.items():
        if name not in pins:
            continue
        try:
            (src,) = sync_sources(
                [spec],
                checkouts_dir=paths.checkouts,
                cache_dir=cache,
                pinned={name: pins[name]},
                on_event=relay,
            )
        except GitSourceError:
            continue  # unreachable or edited: only a path install into it could need it
        found[name] = src
    return found


def _checked_out(
    specs: list[SourceSpec], pins: Mapping[str, str], checkouts: Path
) -> tuple[list[SourceSpec], dict[str, BuildFailure]]:
    """For a dry run: the repos already clean at their locked commits, and for every
    other one what a sync would do (as the reason its steps cannot be planned)."""
    ready: list[SourceSpec] = []
    pending: dict[str, BuildFailure] = {}
    for spec in specs:
        pin = pins.get(spec.name)
        if pin is not None and checkout_state(checkouts / spec.name, pin) == "clean":
            ready.append(spec)
            continue
        at = f"its locked commit {short_commit(pin)}" if pin else "the commit it resolves to"
        pending[spec.name] = EnvironmentBuildError(
            f"repo {spec.name!r} is not checked out yet: a run would check out {spec.rev} "
            f"at {at} and build its environment (dry run: nothing changes)",
            repo=spec.name,
            hint="`mlrecipes workspace sync` does it without running a step",
        )
    return ready, pending


def _contexts(
    sources: Mapping[str, Resolved],
    envs: Mapping[str, BuiltEnv],
    pycache: Path,
    dev: Collection[str],
) -> dict[str, RepoContext]:
    """A context for every repo whose environment is ready."""
    return {
        n: RepoContext(
            n, sources[n], envs[n].env, pycache if n in dev else None, identity=envs[n].identity
        )
        for n in sources
        if n in envs
    }


def _wanted(manifest: Manifest, only: Collection[str] | None) -> set[str]:
    """The repos to sync: ``only`` and every repo they use, or all of them."""
    if only is None:
        return set(manifest.repos)
    return {used for name in only for used in manifest.code_repos(name)}
