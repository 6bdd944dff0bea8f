"""What a step's code record says, for its MLflow run and the run summary (issue #21)."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlrecipes.core.codedeps import CodeRecord
from mlrecipes.core.plan.explain import CODE_CHANGED
from mlrecipes.core.plan.planner import PlannedStep
from mlrecipes.core.tracking.base import (
    CODE_RECORD_ARTIFACT,
    TAG_CODE_REASON,
    TAG_CODE_RECORD,
    PostRunJob,
)


def code_reason(step: PlannedStep) -> str | None:
    """The plan's reason about the step's code, if any (``code changed: feats/hello.py``;
    for a step kept by its record, which commit it was kept across and why)."""
    if step.status == "cached":
        return "; ".join(step.reasons) or None
    found = [r for r in step.reasons if r.startswith(CODE_CHANGED)]
    return found[0] if found else None


def record_summary(step: PlannedStep, code: Mapping[str, Any] | None) -> str:
    """``8 files`` read, or why the tree rule applies to the next commit."""
    if step.code_key is None:
        return "tree rule: cache.code is tree"
    if code is None:
        return "tree rule: nothing was recorded"
    try:
        record = CodeRecord.from_json(code)
    except ValueError:
        return "tree rule: the record is damaged"
    if not record.vouches:
        return f"tree rule: the step {record.unseen[0]}"
    return f"{len(record.files)} file{'s' if len(record.files) != 1 else ''}"


def code_tags(step: PlannedStep, code: Mapping[str, Any] | None) -> dict[str, str]:
    """The tags of an executed step's run about its code."""
    tags = {TAG_CODE_RECORD: record_summary(step, code)}
    reason = code_reason(step)
    if reason is not None:
        tags[TAG_CODE_REASON] = reason
    return tags


def write_record(code: Mapping[str, Any], log_path: Path) -> Path:
    """The record as a file beside the step's log, to upload as its run's artifact."""
    path = log_path.with_suffix(".code.json")
    path.write_text(json.dumps(code, indent=1, sort_keys=True), encoding="utf-8")
    return path


def upload_record(path: Path) -> PostRunJob:
    """The tracker job that logs ``path`` as the run's :data:`CODE_RECORD_ARTIFACT`."""
    return _Upload(path)


class _Upload:
    """Picklable (it crosses to the tracker process), unlike a closure."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, tracker: Any, run_id: str) -> None:
        client = getattr(tracker, "client", None)
        if client is None:  # a tracker without an MLflow client (a test's recorder)
            return
        folder, _, name = CODE_RECORD_ARTIFACT.rpartition("/")
        # Never raises, as the team store's upload: the record stays in the store
        # entry, and a lost artifact must not turn into a tracking error.
        with contextlib.suppress(Exception), tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / name
            shutil.copyfile(self.path, staged)
            client.log_artifact(run_id, str(staged), folder)
