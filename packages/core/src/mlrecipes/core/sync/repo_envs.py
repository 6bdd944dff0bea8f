"""The environments of a workspace's repos: specs (with ``uses`` and git pins), builds,
identities. Part of ``sync``; one repo's failure is returned, never raised, so the
steps of other repos still run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.envs import Environment, EnvSpec, ensure_environments, environment_status
from mlrecipes.core.envs.parallel import BuildFailure
from mlrecipes.core.envs.spec import GitPin, UsedRepo
from mlrecipes.core.errors import EnvironmentBuildError, LockError
from mlrecipes.core.events import EventHandler, RepoNote, RepoProgress
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.sync.env_identity import EnvIdentity, env_identity
from mlrecipes.core.sync.git_pins import lock_key, refs_of, resolve_pins
from mlrecipes.core.sync.lock import Lock
from mlrecipes.git_sources import GitSourceError, Resolved


@dataclass(frozen=True)
class BuiltEnv:
    """A repo's environment, the identity of the code in it, and its resolved git pins."""

    env: Environment
    identity: EnvIdentity
    pins: tuple[GitPin, ...]


@dataclass(frozen=True)
class EnvOptions:
    """How ``sync`` treats environments."""

    update: Collection[str] = ()
    """Repos whose moving git dependencies are resolved again."""
    reinstall: Collection[str] = ()
    """Repos whose environments are rebuilt even when ready."""
    frozen: bool = False
    """Never resolve: a git reference the lock lacks is an error."""
    cache_dir: Path | None = None
    jobs: int | None = None


def build_envs(
    manifest: Manifest,
    sources: Mapping[str, Resolved],
    envs_dir: Path,
    old: Lock | None,
    options: EnvOptions,
    on_event: EventHandler,
    *,
    roots: Mapping[str, Resolved] | None = None,
    dry_run: bool = False,
) -> tuple[dict[str, BuiltEnv], dict[str, BuildFailure]]:
    """Build (or reuse) the environment of every repo in ``sources``; ``roots`` (default:
    ``sources``) are every checkout a path install may point into, for identities.
    With ``dry_run`` nothing is built: an environment that is not ready is returned
    as failed, with what a sync would do."""
    specs: list[EnvSpec] = []
    failed: dict[str, BuildFailure] = {}
    not_built: dict[str, BuildFailure] = {}  # dry run: said by the plan, not as a failure
    for name in sources:
        try:
            spec = _spec(manifest, name, sources, old, options)
        except EnvironmentBuildError as exc:
            failed[name] = exc
            continue
        if dry_run and (why := _not_ready(spec, envs_dir)) is not None:
            not_built[name] = why
            continue
        specs.append(spec)
    for spec in specs:
        on_event(RepoProgress(spec.repo, "building-env"))
    built = ensure_environments(
        specs, envs_dir=envs_dir, jobs=options.jobs, rebuild=options.reinstall
    )
    result: dict[str, BuiltEnv] = {}
    for spec in specs:
        value = built[spec.repo]
        if isinstance(value, Environment):
            for note in value.notes:
                on_event(RepoNote(spec.repo, note))
            identity = env_identity(value, roots if roots is not None else sources)
            result[spec.repo] = BuiltEnv(value, identity, spec.git_pins)
            on_event(RepoProgress(spec.repo, "ready"))
        else:
            failed[spec.repo] = value
    for name, failure in failed.items():
        on_event(RepoProgress(name, "failed", failure.message))
    return result, {**not_built, **failed}


def _not_ready(spec: EnvSpec, envs_dir: Path) -> EnvironmentBuildError | None:
    """For a dry run: why ``spec``'s environment cannot be used without building it."""
    if environment_status(spec, envs_dir=envs_dir) == "ready":
        return None
    return EnvironmentBuildError(
        f"repo {spec.repo!r}: its environment is not built (dry run: nothing is built)",
        repo=spec.repo,
        hint="a run (or `mlrecipes workspace sync`) builds it",
    )


def _spec(
    manifest: Manifest,
    name: str,
    sources: Mapping[str, Resolved],
    old: Lock | None,
    options: EnvOptions,
) -> EnvSpec:
    src = sources[name]
    absent = [u for u in manifest.code_repos(name)[1:] if u not in sources]
    if absent:  # a dry run leaves out what is not checked out yet
        raise EnvironmentBuildError(
            f"repo {name!r}: its used repo {absent[0]!r} is not checked out yet",
            repo=name,
            hint="a run (or `mlrecipes workspace sync`) checks it out",
        )
    uses = tuple(
        UsedRepo(used, sources[used].project_dir, sources[used].commit)
        for used in manifest.code_repos(name)[1:]
    )
    refs = refs_of(name, src.project_dir, uses)
    locked = dict(old.repos[name].git_refs) if old and name in old.repos else {}
    if options.frozen and (missing := [r for r in refs if lock_key(r) not in locked]):
        raise LockError(
            f"repo {name!r}: the lock has no commit for git dependency {lock_key(missing[0])}",
            hint="run `mlrecipes workspace sync` without `mode='frozen'` and commit workspace.lock",
        )
    try:
        pins = resolve_pins(
            name,
            refs,
            locked,
            update=name in options.update,
            cache_dir=options.cache_dir or Path(),
        )
    except GitSourceError as exc:
        raise EnvironmentBuildError(
            f"repo {name!r}: cannot resolve a git dependency: {exc}", repo=name, hint=exc.hint
        ) from exc
    return EnvSpec(
        repo=name,
        project_dir=src.project_dir,
        python=manifest.repos[name].python,
        uses=uses,
        git_pins=pins,
    )
