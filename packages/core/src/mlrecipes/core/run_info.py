"""What a pipeline run logs to MLflow: tags, params and artifacts (DESIGN.md, "In MLflow")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from mlrecipes.core.lock import lock_path_for
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.manifest.redact import redact_secrets
from mlrecipes.core.plan import PlannedStep, Variant
from mlrecipes.core.run_records import fingerprints_hash
from mlrecipes.core.syncing import RepoContext, SyncResult, lock_url
from mlrecipes.core.tracking import PipelineInfo, StepInfo


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
    params = {s.step: dict(s.public_params) for s in variant.steps}
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    params_file = artifacts_dir / "params.json"
    params_file.write_text(
        json.dumps(
            {"overrides": dict(variant.overrides), "steps": params}, indent=2, sort_keys=True
        )
    )
    artifacts = {
        "manifest": _manifest_artifact(manifest.path, artifacts_dir),
        "params": params_file,
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


def _manifest_artifact(path: Path, artifacts_dir: Path) -> Path:
    """The manifest as logged: a copy with ``!secret`` values masked when it has any."""
    redacted = redact_secrets(path.read_text(encoding="utf-8"))
    if redacted is None:
        return path
    copy = artifacts_dir / "manifest" / path.name  # same file name: reproduce looks for it
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(redacted, encoding="utf-8")
    return copy


def step_info(step: PlannedStep, repos: Mapping[str, RepoContext], *, cache: str) -> StepInfo:
    ctx = repos[step.repo]
    tags = {
        "mlrecipes.kind": "step",
        "mlrecipes.step": step.step,
        "mlrecipes.fn": step.fn,
        "mlrecipes.fingerprint": step.fingerprint,
        "mlrecipes.cache": cache,
        "mlflow.source.git.commit": ctx.source.commit,
        "mlflow.runName": step.step,
    }
    return StepInfo(step=step.step, tags=tags, params=dict(step.public_params))
