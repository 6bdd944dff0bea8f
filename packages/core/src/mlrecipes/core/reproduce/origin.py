"""The run to reproduce, read back from MLflow: its tags, artifacts and step metrics.

Everything ``reproduce`` needs comes from the parent run alone: the manifest,
the lock and the parameters (artifacts), the overrides, the commits and the
folder the manifest lived in (tags), and every step's metrics, executed or
taken from the store (``<step>.<metric>`` metrics of the parent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrecipes.core.errors import ReproduceError
from mlrecipes.core.tracking import (
    PipelineRunRow,
    download_pipeline_artifacts,
    get_run_tags,
    list_pipeline_runs,
)
from mlrecipes.core.tracking.base import (
    TAG_MANIFEST,
    TAG_OVERRIDES,
    TAG_REPRODUCES,
    TAG_WORKSPACE_ROOT,
    RepoRef,
    decode_overrides,
    decode_repo_tags,
    split_step_metric,
)

__all__ = ["TAG_REPRODUCES", "LoggedRun", "read_logged_run", "refuse_dirty", "step_metrics"]


@dataclass(frozen=True)
class LoggedRun:
    """A parent run as logged, with its artifacts downloaded into local files."""

    run_id: str
    tags: Mapping[str, str]
    manifest_file: Path
    lock_file: Path
    manifest_name: str
    workspace_root: Path | None
    overrides: Mapping[str, str]
    steps: tuple[str, ...]  # the steps the run planned (its targets' closure)

    def repos(self) -> dict[str, RepoRef]:
        """The repos the run recorded (``mlrecipes.repo.*`` tags), by name."""
        return decode_repo_tags(self.tags)


def read_logged_run(tracking_uri: str, run_id: str, dest: Path) -> LoggedRun:
    """Read run ``run_id`` and download its artifacts into ``dest``; refuse what cannot work.

    Raises :class:`ReproduceError` for a run from a dirty working copy or with
    missing artifacts, and ``TrackingError`` when there is no such run.
    """
    tags = get_run_tags(tracking_uri, run_id)
    refuse_dirty(run_id, tags)
    files = download_pipeline_artifacts(tracking_uri, run_id, dest)
    missing = [key for key in ("manifest", "lock", "params") if key not in files]
    if missing:
        raise ReproduceError(
            f"run {run_id} lacks its {', '.join(missing)} artifact(s)",
            run_id=run_id,
            hint="the run's artifacts were deleted or it was logged by another tool; "
            "only complete `mlrecipes run` runs can be reproduced",
        )
    params = _read_json(files["params"], run_id)
    root = tags.get(TAG_WORKSPACE_ROOT)
    return LoggedRun(
        run_id=run_id,
        tags=tags,
        manifest_file=files["manifest"],
        lock_file=files["lock"],
        manifest_name=tags.get(TAG_MANIFEST) or files["manifest"].name,
        workspace_root=Path(root) if root else None,
        overrides=_overrides(tags.get(TAG_OVERRIDES), run_id),
        steps=tuple(params.get("steps") or ()),
    )


def refuse_dirty(run_id: str, tags: Mapping[str, str]) -> None:
    """A run whose code came from a dirty working copy is in no commit: refuse it."""
    dirty = [name for name, repo in decode_repo_tags(tags).items() if repo.dirty]
    if dirty:
        raise ReproduceError(
            f"run {run_id} ran the code of a dirty local working copy of repo(s) "
            f"{', '.join(dirty)}: that code is in no commit, so it cannot be fetched again",
            run_id=run_id,
            hint="commit the changes, run the pipeline again without `dev` or "
            "workspace.local.yaml, and reproduce that run",
        )


def step_metrics(
    tracking_uri: str, experiment: str, run_id: str
) -> tuple[PipelineRunRow, dict[str, dict[str, float]]]:
    """The parent run's row and ``{step: metrics}`` of every step, from its metrics."""
    rows = list_pipeline_runs(
        tracking_uri, experiment, filter=f"attributes.run_id = '{run_id}'", max_results=1
    )
    if not rows:
        raise ReproduceError(
            f"run {run_id} is not a pipeline run of experiment {experiment!r}",
            run_id=run_id,
            hint="was the run moved to another experiment? reproduce needs it where it was logged",
        )
    row = rows[0]
    by_step: dict[str, dict[str, float]] = {}
    for key, value in row.metrics.items():
        split = split_step_metric(key)
        if split is not None:
            by_step.setdefault(split[0], {})[split[1]] = value
    return row, by_step


def _read_json(path: Path, run_id: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReproduceError(
            f"run {run_id}: unreadable {path.name}: {exc}", run_id=run_id
        ) from None
    return data if isinstance(data, dict) else {}


def _overrides(text: str | None, run_id: str) -> dict[str, str]:
    try:
        value = decode_overrides(text)
    except ValueError:
        raise ReproduceError(
            f"run {run_id}: tag {TAG_OVERRIDES} is not a JSON mapping: {text!r}", run_id=run_id
        ) from None
    return {str(k): str(v) for k, v in value.items()}
