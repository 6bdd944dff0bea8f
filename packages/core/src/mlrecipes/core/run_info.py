"""What a pipeline run logs to MLflow: tags, params and artifacts (DESIGN.md, "In MLflow")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from mlrecipes.core.lock import lock_path_for
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.plan import PlannedStep, Variant
from mlrecipes.core.run_records import fingerprints_hash
from mlrecipes.core.syncing import RepoContext, SyncResult, lock_url
from mlrecipes.core.tracking import PipelineInfo, StepInfo


def step_code_repos(manifest: Manifest, step: str) -> tuple[str, ...]:
    """The repos whose code ``step`` can import, in order: its own repo, then every
    repo it uses (transitively, as ``uses:`` lists them)."""
    return manifest.code_repos(manifest.steps[step].fn.repo)


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


def repo_tags(manifest: Manifest, repos: Mapping[str, RepoContext]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for name, ctx in repos.items():
        prefix = f"mlrecipes.repo.{name}"
        tags[f"{prefix}.commit"] = ctx.source.commit
        tags[f"{prefix}.url"] = lock_url(manifest.repos[name])
        tags[f"{prefix}.subdir"] = ctx.source.subdir or ""
        tags[f"{prefix}.tree"] = ctx.source.tree
        tags[f"{prefix}.dirty"] = str(ctx.source.dirty).lower()
    return tags


def pipeline_info(
    variant: Variant,
    sync: SyncResult,
    *,
    experiment: str,
    artifacts_dir: Path,
) -> PipelineInfo:
    """The parent run of one variant; writes its ``params.json`` into ``artifacts_dir``."""
    manifest = variant.manifest
    params = {s.step: dict(s.params) for s in variant.steps}
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    params_file = artifacts_dir / "params.json"
    params_file.write_text(
        json.dumps(
            {"overrides": dict(variant.overrides), "steps": params}, indent=2, sort_keys=True
        )
    )
    artifacts = {
        "manifest": manifest.path,
        "params": params_file,
        "packages": write_packages(sync, artifacts_dir),
    }
    lock_file = lock_path_for(manifest.path)
    if lock_file.exists():
        artifacts["lock"] = lock_file
    tags = {
        **repo_tags(manifest, sync.repos),
        "mlrecipes.kind": "pipeline",
        "mlrecipes.overrides": json.dumps(dict(variant.overrides), sort_keys=True),
        "mlrecipes.lock_hash": sync.lock.digest(),
        "mlrecipes.fingerprints": fingerprints_hash(variant.fingerprints),
        "mlrecipes.manifest": manifest.path.name,
        # reproduce resolves relative local repo URLs (`url: ../models`) against this
        "mlrecipes.workspace_root": str(manifest.root.resolve()),
    }
    name = manifest.name
    if variant.overrides:
        name += " " + " ".join(f"{k}={v}" for k, v in variant.overrides.items())
    return PipelineInfo(
        experiment=experiment,
        run_name=name,
        tags=tags,
        params={k.lstrip("+"): str(v) for k, v in variant.overrides.items()},
        artifacts=artifacts,
    )


def step_info(
    step: PlannedStep, repos: Mapping[str, RepoContext], *, cache: str, manifest: Manifest
) -> StepInfo:
    """The child run of a step: tagged with the commit, tree and dirty flag of its
    repo and of every repo it uses (the code it could import)."""
    code = {n: repos[n] for n in step_code_repos(manifest, step.step) if n in repos}
    tags = {
        **repo_tags(manifest, code),
        "mlrecipes.kind": "step",
        "mlrecipes.step": step.step,
        "mlrecipes.fn": step.fn,
        "mlrecipes.fingerprint": step.fingerprint,
        "mlrecipes.cache": cache,
        "mlflow.runName": step.step,
    }
    if step.repo in repos:
        tags["mlflow.source.git.commit"] = repos[step.repo].source.commit
    return StepInfo(step=step.step, tags=tags, params=dict(step.params))
