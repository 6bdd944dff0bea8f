"""What a pipeline run logs to MLflow, built from the plan (DESIGN.md, "In MLflow").

The tag keys and the dicts themselves come from :mod:`mlrecipes.core.tracking.base`;
this module only turns plans and synced repos into its plain inputs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.manifest import Manifest
from mlrecipes.core.manifest.redact import redact_secrets
from mlrecipes.core.plan.planner import PlannedStep, Variant
from mlrecipes.core.plan.records import fingerprints_hash
from mlrecipes.core.sync.lock import lock_path_for
from mlrecipes.core.sync.workspace_sync import RepoContext, SyncResult, lock_url
from mlrecipes.core.tracking import sanitize_metric_key
from mlrecipes.core.tracking.base import (
    STEPS_ARTIFACT,
    CacheStatus,
    PipelineInfo,
    PipelineSummary,
    RepoRef,
    StepInfo,
    WorkspaceSource,
    pipeline_tags,
    step_metric_key,
    step_summary_tags,
    step_tags,
    variant_run_name,
)
from mlrecipes.git_sources import ShareableUrl, folder_repo, shareable_url


@functools.lru_cache(maxsize=256)
def _shareable(url: str, base_dir: Path) -> ShareableUrl:
    # A repo's remote does not change while a command runs; a sweep asks once.
    return shareable_url(url, base_dir)


def recorded_url(manifest: Manifest, name: str) -> ShareableUrl:
    """The URL a run records for repo ``name``: fetchable by a teammate, or local-only
    (the rules of :mod:`mlrecipes.git_sources.shareable`)."""
    return _shareable(lock_url(manifest.repos[name]), manifest.root)


def repo_ref(manifest: Manifest, ctx: RepoContext) -> RepoRef:
    recorded = recorded_url(manifest, ctx.name)
    return RepoRef(
        name=ctx.name,
        url=recorded.url,
        commit=ctx.source.commit,
        tree=ctx.source.tree,
        subdir=ctx.source.subdir or "",
        dirty=ctx.source.dirty,
        local_only=recorded.local_only,
    )


def workspace_source(manifest: Manifest) -> WorkspaceSource | None:
    """The git repository holding the manifest, as the parent run's source; None when
    the manifest is in no repository (or one without commits)."""
    repo = folder_repo(manifest.root)
    if repo is None:
        return None
    return WorkspaceSource(
        url=repo.url.url,
        commit=repo.commit,
        dirty=repo.dirty,
        local_only=repo.url.local_only,
        folder=repo.folder,
    )


def step_code_repos(manifest: Manifest, step: str) -> tuple[str, ...]:
    """The repos whose code ``step`` can import, in order: its own repo, then every
    repo it uses (transitively, as ``uses:`` lists them)."""
    return manifest.code_repos(manifest.steps[step].fn.repo)


def step_repos(
    manifest: Manifest, repos: Mapping[str, RepoContext], step: PlannedStep
) -> list[RepoRef]:
    """The step's own repo first, then every repo it uses, transitively (synced ones)."""
    names = step_code_repos(manifest, step.step)
    refs = [repo_ref(manifest, repos[name]) for name in names if name in repos]
    if step.repo not in repos:
        # Its environment could not be built: no code of it ran, so no commit to name.
        spec, recorded = manifest.repos[step.repo], recorded_url(manifest, step.repo)
        unbuilt = RepoRef(
            step.repo, recorded.url, "", "", spec.subdir or "", local_only=recorded.local_only
        )
        refs.insert(0, unbuilt)
    return refs


def write_packages(sync: SyncResult, folder: Path) -> Path:
    """Write ``packages.json``: per repo, its environment's key, identity and every
    installed distribution with its source (git commit, path, tree); the file's path."""
    body = {
        name: {
            "environment": ctx.env.key,
            "identity": ctx.env_hash,
            "packages": [dict(p) for p in ctx.identity.packages] if ctx.identity else [],
        }
        for name, ctx in sorted(sync.repos.items())
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "packages.json"
    path.write_text(json.dumps(body, indent=2, sort_keys=True))
    return path


def _manifest_artifact(path: Path, artifacts_dir: Path) -> Path:
    """The manifest as logged: a copy with ``!secret`` values masked when it has any."""
    redacted = redact_secrets(path.read_text(encoding="utf-8"))
    if redacted is None:
        return path
    copy = artifacts_dir / "manifest" / path.name  # same file name: reproduce looks for it
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(redacted, encoding="utf-8")
    return copy


def param_order(manifest: Manifest) -> list[str]:
    """Every param key in the manifest's order: globals, then ``step.param`` step by step."""
    keys = list(manifest.params)
    for name, spec in manifest.steps.items():
        keys += [f"{name}.{param}" for param in spec.params]
    return keys


def run_name(variant: Variant) -> str:
    """The parent run's name of a variant (see :func:`variant_run_name`)."""
    manifest = variant.manifest
    return variant_run_name(manifest.name, variant.overrides, order=param_order(manifest))


def step_params(variant: Variant) -> dict[str, dict[str, object]]:
    return {s.step: dict(s.public_params) for s in variant.steps}  # secrets masked


def pipeline_info(
    variant: Variant,
    sync: SyncResult,
    *,
    experiment: str,
    artifacts_dir: Path,
    started_at: float | None = None,
    source: WorkspaceSource | None = None,
) -> PipelineInfo:
    """The parent run of one variant; writes its ``params.json`` into ``artifacts_dir``.

    ``source`` is :func:`workspace_source` (asked once for all variants of a run).
    """
    manifest = variant.manifest
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    params_file = artifacts_dir / "params.json"
    params = step_params(variant)
    params_file.write_text(
        json.dumps(
            {"overrides": dict(variant.overrides), "steps": params},
            indent=2,
            sort_keys=True,
            default=str,
        )
    )
    artifacts = {
        "manifest": _manifest_artifact(manifest.path, artifacts_dir),
        "params": params_file,
        "packages": write_packages(sync, artifacts_dir),
    }
    lock_file = lock_path_for(manifest.path)
    if lock_file.exists():
        artifacts["lock"] = lock_file
    tags = pipeline_tags(
        [repo_ref(manifest, ctx) for ctx in sync.repos.values()],
        overrides=variant.overrides,
        lock_hash=sync.lock.digest(),
        fingerprints=fingerprints_hash(variant.fingerprints),
        manifest_name=manifest.path.name,
        workspace_root=str(manifest.root.resolve()),
        source=source,
    )
    return PipelineInfo(
        experiment=experiment,
        run_name=run_name(variant),
        tags=tags,
        # every resolved param, flattened `step.param`; the full set is params.json
        params=params,
        artifacts=artifacts,
        started_at=started_at,
    )


def step_info(
    step: PlannedStep,
    manifest: Manifest,
    repos: Mapping[str, RepoContext],
    *,
    started_at: float | None = None,
) -> StepInfo:
    tags = step_tags(step.step, step.fn, step.fingerprint, step_repos(manifest, repos, step))
    return StepInfo(
        step=step.step, tags=tags, params=dict(step.public_params), started_at=started_at
    )


@dataclass(frozen=True)
class StepRecord:
    """One step of a variant as its parent run records it (a row of ``steps.json``)."""

    step: str
    fingerprint: str
    cache: CacheStatus | None  # None: the step produced nothing (failed, skipped)
    source_run: str | None
    metrics: Mapping[str, float]


def variant_summary(records: Sequence[StepRecord], artifacts_dir: Path) -> PipelineSummary:
    """Per-step tags, ``<step>.<metric>`` metrics and ``steps.json`` for a parent run."""
    tags: dict[str, str] = {}
    metrics: dict[str, float] = {}
    rows = []
    for record in records:
        if record.cache is not None:
            tags.update(
                step_summary_tags(record.step, record.fingerprint, record.cache, record.source_run)
            )
        for name, value in record.metrics.items():
            metrics[step_metric_key(record.step, sanitize_metric_key(name))] = value
        rows.append(
            {
                "step": record.step,
                "fingerprint": record.fingerprint,
                "cache": record.cache,
                "source_run": record.source_run,
                "metrics": dict(record.metrics),
            }
        )
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    steps_file = artifacts_dir / "steps.json"
    steps_file.write_text(json.dumps({"steps": rows}, indent=2, sort_keys=True))
    return PipelineSummary(tags=tags, metrics=metrics, artifacts={STEPS_ARTIFACT: steps_file})
