"""Planning: which steps of which variants run, with which fingerprint, and why.

Planning is separate from running (the DAG is data): :func:`make_plan` reads the
manifest, the synced repos and the store, and returns every step of every
variant with its fingerprint, its status (``cached`` or ``run``) and the
reasons, before anything runs. Variants whose steps have the same fingerprint
share one execution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from mlrecipes.core.errors import UserError
from mlrecipes.core.fingerprint import hash_path
from mlrecipes.core.manifest import (
    Manifest,
    OutRef,
    PathRef,
    StepSpec,
    StoreOut,
    apply_overrides,
    public_overrides,
    public_params,
    resolve_params,
)
from mlrecipes.core.manifest.graph import StepGraph
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.plan.code_lookup import lookup_by_code
from mlrecipes.core.plan.explain import CODE_CHANGED
from mlrecipes.core.plan.identity import StepIdentity
from mlrecipes.core.plan.records import read_executions
from mlrecipes.core.store.local import Store
from mlrecipes.core.sync.workspace_sync import RepoContext


@dataclass(frozen=True)
class PlannedStep:
    """One step of one variant, ready to become a task."""

    step: str
    repo: str
    fn: str
    fingerprint: str
    status: Literal["cached", "run"]
    reasons: tuple[str, ...]
    params: Mapping[str, Any]  # in clear: for the step's function only, never shown
    public_params: Mapping[str, Any]  # secrets masked: what is logged, printed, stored
    inputs: Mapping[str, str]  # dep name -> identity: "step:<fp>/<out>" or "file:<sha256>"
    input_paths: Mapping[str, Path]
    outputs: Mapping[str, str]  # out name -> path inside the store entry
    declared: Mapping[str, Path]  # out name -> the `!path` place users look at
    needs: tuple[str, ...]  # fingerprints of the upstream steps that run in this plan
    components: Mapping[str, Any]  # what the fingerprint hashed, for "why" next time
    unavailable: str | None = None
    """Why the step cannot run (its repo's environment failed to build), or None."""
    forced: bool = False  # --force (or downstream of it): never taken from a store
    code_key: str | None = None
    """The key without code (codedeps); None: the tree rule alone (``cache.code: tree``)."""
    code_roots: Mapping[str, Path] = field(default_factory=dict)
    """The checkouts inside which the runner records what the step reads."""


@dataclass(frozen=True)
class Variant:
    index: int
    overrides: Mapping[str, str]  # as shown and logged: a secret's value reads <secret>
    manifest: Manifest
    steps: tuple[PlannedStep, ...]

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(sorted(s.fingerprint for s in self.steps))


@dataclass(frozen=True)
class Plan:
    variants: tuple[Variant, ...]
    remote: Mapping[str, str] = field(default_factory=dict)
    """Fingerprint -> the step run of the team store that has (or gave) its entry."""

    def with_remote(self, remote: Mapping[str, str]) -> Plan:
        """This plan, knowing which steps to run have an entry in the team store."""
        return dataclasses.replace(self, remote=dict(remote))

    def with_fetched(self, fetched: Collection[str]) -> Plan:
        """The steps of ``fetched`` fingerprints, now in the local store, become cached."""
        done = set(fetched)
        variants = tuple(
            dataclasses.replace(
                variant,
                steps=tuple(
                    dataclasses.replace(s, status="cached", reasons=())
                    if s.fingerprint in done
                    else s
                    for s in variant.steps
                ),
            )
            for variant in self.variants
        )
        remote = {fp: run for fp, run in self.remote.items() if fp in done}
        return Plan(variants, remote)

    def unique(self) -> dict[str, PlannedStep]:
        """One planned step per fingerprint: what executes once for all variants."""
        seen: dict[str, PlannedStep] = {}
        for variant in self.variants:
            for step in variant.steps:
                seen.setdefault(step.fingerprint, step)
        return seen

    @property
    def to_run(self) -> list[PlannedStep]:
        return [s for s in self.unique().values() if s.status == "run"]


def output_layout(spec: StepSpec, manifest: Manifest) -> tuple[dict[str, str], dict[str, Path]]:
    """Where each output goes inside the store entry, and its declared place if any."""
    inside: dict[str, str] = {}
    declared: dict[str, Path] = {}
    for name, out in spec.outs.items():
        if isinstance(out, PathRef):
            base = PurePosixPath(out.rel).name or name
            inside[name] = f"{name}/{base}"
            declared[name] = manifest.resolve_path(out)
        elif isinstance(out, StoreOut):
            inside[name] = out.rel
    return inside, declared


class _Planner:
    """Plans the steps of one variant; caches file hashes across variants."""

    def __init__(
        self,
        repos: Mapping[str, RepoContext],
        store: Store,
        force: Collection[str],
        hash_cache: Path,
        failed: Mapping[str, Exception],
    ) -> None:
        self.repos = repos
        self.failed = failed
        self.store = store
        self.force = set(force)
        self.hash_cache = hash_cache
        self._file_hashes: dict[Path, str] = {}
        self._summaries: dict[str, dict[str, str]] = {}
        self._without_code: dict[str, str] = {}
        self.forced_fps: set[str] = set()
        self.checkouts = {name: ctx.source.path for name, ctx in repos.items()}

    def file_identity(self, manifest: Manifest, step: str, dep: PathRef) -> tuple[str, Path]:
        path = manifest.resolve_path(dep)
        where = f"{dep.loc}: " if dep.loc else ""
        if path not in self._file_hashes:
            if not path.exists():
                loop = path.is_symlink()
                raise UserError(
                    f"{where}step {step!r} reads {dep} ({path}), which "
                    + ("is a broken or looping symlink" if loop else "does not exist"),
                    hint="create the file, or point the dep at another step's output with !out",
                )
            try:
                self._file_hashes[path] = hash_path(path, cache_file=self.hash_cache)
            except (OSError, ValueError) as exc:
                raise UserError(
                    f"{where}step {step!r} cannot read its dep {dep}: {exc}",
                    hint="a dep is a regular file or a folder of them (no FIFOs, devices, "
                    "sockets, broken or looping symlinks)",
                ) from None
        return f"file:{self._file_hashes[path]}", path

    def plan_variant(
        self, index: int, overrides: Mapping[str, str], manifest: Manifest, order: Sequence[str]
    ) -> Variant:
        planned: dict[str, PlannedStep] = {}
        for name in order:
            planned[name] = self.plan_step(manifest, manifest.steps[name], planned)
        return Variant(index, dict(overrides), manifest, tuple(planned.values()))

    def plan_step(
        self, manifest: Manifest, spec: StepSpec, planned: Mapping[str, PlannedStep]
    ) -> PlannedStep:
        repo_name = spec.fn.repo
        repo = self.repos.get(repo_name)
        inputs, input_paths, needs, forced_by = self.inputs(manifest, spec, planned)
        outputs, declared = output_layout(spec, manifest)
        identity = self.identity(manifest, spec, repo, inputs, outputs)
        fp = identity.fingerprint
        unavailable = None if repo else self.why_unavailable(repo_name)
        files_rule = repo is not None and manifest.code_rule(spec.name) == "files"
        code_key = identity.code_free_key if files_rule else None
        forced = spec.name in self.force or bool(forced_by)
        cached = repo is not None and not forced and self.store.is_complete(spec.name, fp)
        reasons: tuple[str, ...] = ()
        if forced:
            self.forced_fps.add(fp)
            reasons = (
                ("forced",)
                if spec.name in self.force
                else (f"forced: upstream {', '.join(sorted(set(forced_by)))} reruns",)
            )
        elif unavailable is not None:
            reasons = (f"the environment of repo {repo_name!r} could not be built",)
        elif not cached:
            kept, reasons = self.by_code(spec.name, identity, code_key)
            fp, cached = kept or fp, kept is not None
        return PlannedStep(
            step=spec.name,
            repo=repo_name,
            fn=str(spec.fn),
            fingerprint=fp,
            status="cached" if cached else "run",
            reasons=reasons,
            params=resolve_params(manifest, spec.name),
            public_params=public_params(manifest, spec.name),
            inputs=inputs,
            input_paths=input_paths,
            outputs=outputs,
            declared=declared,
            needs=tuple(sorted(set(needs))),
            components=identity.components,
            unavailable=unavailable,
            forced=forced,
            code_key=code_key,
            code_roots=self.checkouts if code_key else {},
        )

    def inputs(
        self, manifest: Manifest, spec: StepSpec, planned: Mapping[str, PlannedStep]
    ) -> tuple[dict[str, str], dict[str, Path], list[str], list[str]]:
        """(identity, path) of each dep, the upstream fingerprints it needs, and which
        upstream steps are forced."""
        inputs: dict[str, str] = {}
        input_paths: dict[str, Path] = {}
        needs: list[str] = []
        forced_by: list[str] = []
        for dep_name, dep in sorted(spec.deps.items()):
            if isinstance(dep, OutRef):
                up = planned[dep.step]
                inputs[dep_name] = f"step:{up.fingerprint}/{dep.name}"
                input_paths[dep_name] = (
                    self.store.entry(up.step, up.fingerprint) / up.outputs[dep.name]
                )
                needs.append(up.fingerprint)
                if up.fingerprint in self.forced_fps:
                    forced_by.append(up.step)
            else:
                inputs[dep_name], input_paths[dep_name] = self.file_identity(
                    manifest, spec.name, dep
                )
        return inputs, input_paths, needs, forced_by

    def identity(
        self,
        manifest: Manifest,
        spec: StepSpec,
        repo: RepoContext | None,
        inputs: Mapping[str, str],
        outputs: Mapping[str, str],
    ) -> StepIdentity:
        """The step's identity (plan/identity.py: what the fingerprint hashes, and labels)."""
        name = spec.fn.repo
        # A repo whose environment failed has no identity: its steps get a
        # fingerprint that no store entry can have, and fail when started.
        tree = repo.source.tree if repo else "unavailable"
        return StepIdentity(
            {
                "fn": str(spec.fn),
                "code": f"{name}@{tree}",
                # Labels of the code (the tree is its identity): what people know code by.
                "commit": f"{name}@{repo.source.commit if repo else 'unavailable'}",
                "dirty": repo.source.dirty if repo else False,
                "env": repo.env_hash if repo else f"unavailable:{name}",
                # Secrets enter the fingerprint as a salted digest, never in clear.
                "params": resolve_params(manifest, spec.name, view="fingerprint"),
                "inputs": dict(inputs),
                "outputs": dict(outputs),
                # Labels of the environment (its identity holds their trees):
                # which used repo or package moved, for `--dry-run`.
                "uses": {
                    used: {
                        "commit": self.repos[used].source.commit,
                        "tree": self.repos[used].source.tree,
                    }
                    for used in manifest.code_repos(name)[1:]
                    if used in self.repos
                },
                "packages": self.packages(repo),
                # The key without code (codedeps): where the step runs, and the
                # environment without what it imports from the checkouts in place.
                "project": f"{name}:{repo.source.subdir or '' if repo else 'unavailable'}",
                "env_without_code": self.env_without_code(repo, name),
            }
        )

    def env_without_code(self, repo: RepoContext | None, name: str) -> str:
        if repo is None:
            return f"unavailable:{name}"
        if repo.identity is None:
            return repo.env_hash
        key = repo.identity.digest
        if key not in self._without_code:
            self._without_code[key] = repo.identity.without_checkout_code()
        return self._without_code[key]

    def by_code(
        self, step: str, identity: StepIdentity, code_key: str | None
    ) -> tuple[str | None, tuple[str, ...]]:
        """(fingerprint of an entry whose code record vouches for the checkouts now, or
        None; the reasons: why it is kept, or why the step runs)."""
        before = read_executions(self.store.root, step)
        if code_key is None:  # cache.code: tree
            return None, identity.reasons(before, code_note="cache.code: tree")
        found = lookup_by_code(self.store, step, code_key, self.checkouts)
        if found.fingerprint is None:
            return None, identity.reasons(before, code_note=found.note, code_files=found.changed)
        code = [r for r in identity.reasons(before) if r.startswith(CODE_CHANGED)]
        kept = tuple(f"{r.removeprefix(CODE_CHANGED)}: {found.note}" for r in code)
        return found.fingerprint, kept or (str(found.note),)

    def packages(self, repo: RepoContext | None) -> dict[str, str]:
        """The environment's package summary (once per environment), for explanations."""
        if repo is None or repo.identity is None:
            return {}
        key = repo.identity.digest
        if key not in self._summaries:
            self._summaries[key] = repo.identity.summary()
        return self._summaries[key]

    def why_unavailable(self, repo: str) -> str:
        """The build failure of ``repo``'s environment, with the tail of uv's output."""
        failure = self.failed.get(repo)
        if failure is None:
            return f"repo {repo!r} was not synced"
        text = str(failure)
        hint = getattr(failure, "hint", None)
        return f"{text}\n  hint: {hint}" if hint else text


def needed_repos(manifest: Manifest, targets: Sequence[str]) -> set[str] | None:
    """The repos the steps up to ``targets`` run in (None: all, when no targets).

    ``sync`` adds the repos they use.
    """
    if not targets:
        return None
    steps = StepGraph.from_manifest(manifest).upstream_closure(targets)
    return {manifest.steps[name].fn.repo for name in steps}


def make_plan(
    manifest: Manifest,
    repos: Mapping[str, RepoContext],
    *,
    targets: Sequence[str] = (),
    variants: Sequence[Mapping[str, str]] = ({},),
    force: Collection[str] = (),
    failed: Mapping[str, Exception] | None = None,
) -> Plan:
    """Plan every variant of the pipeline up to ``targets`` (all steps when empty).

    Steps of repos in ``failed`` (their environment could not be built) are
    planned to run and carry the failure in ``unavailable``.
    """
    paths = WorkspacePaths.for_manifest(manifest)
    graph = StepGraph.from_manifest(manifest)
    order = graph.upstream_closure(targets) if targets else graph.order()
    if force:
        graph.upstream_closure(list(force))  # unknown names raise with did-you-mean
    planner = _Planner(repos, Store(paths.store), force, paths.hash_cache, failed or {})
    planned = [
        # a secret's overridden value is applied, and shown and logged as <secret>
        planner.plan_variant(
            i, public_overrides(manifest, overrides), apply_overrides(manifest, overrides), order
        )
        for i, overrides in enumerate(variants)
    ]
    return Plan(tuple(planned))
