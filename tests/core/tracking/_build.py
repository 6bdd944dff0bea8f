"""Pipeline and step infos like the orchestrator makes them, for tracking tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlrecipes.core.tracking import PipelineInfo, StepInfo

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_files(folder: Path, overrides: Mapping[str, Any]) -> dict[str, Path]:
    """A manifest, a lock and a params.json in ``folder``; files by artifact key."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "workspace.yaml"
    manifest.write_text("version: 1\nname: churn\n")
    lock = folder / "workspace.lock"
    lock.write_text(f"repos:\n  features:\n    commit: {COMMIT}\n")
    params = folder / "params.json"
    params.write_text(json.dumps({"overrides": dict(overrides), "steps": {}}))
    return {"manifest": manifest, "lock": lock, "params": params}


def pipeline_info(
    folder: Path,
    *,
    experiment: str = "churn",
    overrides: Mapping[str, Any] | None = None,
    fingerprints: str = "fp-set-1",
    dirty: bool = False,
) -> PipelineInfo:
    overrides = dict(overrides or {})
    repo = "mlrecipes.repo.features"
    tags = {
        f"{repo}.commit": COMMIT,
        f"{repo}.url": "https://example.invalid/features.git",
        f"{repo}.subdir": "",
        f"{repo}.tree": "f" * 40,
        f"{repo}.dirty": str(dirty).lower(),
        "mlrecipes.overrides": json.dumps(overrides, sort_keys=True),
        "mlrecipes.lock_hash": "lock-hash",
        "mlrecipes.fingerprints": fingerprints,
    }
    return PipelineInfo(
        experiment=experiment,
        run_name="churn " + " ".join(f"{k}={v}" for k, v in overrides.items()),
        tags=tags,
        params={k: str(v) for k, v in overrides.items()},
        artifacts=write_files(folder, overrides),
    )


def step_info(
    step: str, *, cache: str = "miss", params: Mapping[str, Any] | None = None
) -> StepInfo:
    tags = {
        "mlrecipes.kind": "step",
        "mlrecipes.fn": f"features:mod.{step}",
        "mlrecipes.fingerprint": f"fp-{step}",
        "mlrecipes.cache": cache,
        "mlflow.source.git.commit": COMMIT,
        "mlflow.runName": step,
    }
    return StepInfo(step=step, tags=tags, params=dict(params or {}))
