"""The MLflow tags mlrecipes writes read back by the decoders beside them (tracking/base.py)."""

from __future__ import annotations

import pytest

from mlrecipes.core.tracking.base import (
    RepoRef,
    decode_overrides,
    decode_repo_tags,
    pipeline_tags,
    repo_tags,
    step_summary_tags,
    summary_steps,
)


def test_repo_tags_read_back() -> None:
    repos = [
        RepoRef("features", "https://h/f.git", "a" * 40, "b" * 40),
        RepoRef("models.v2", "../m", "c" * 40, "d" * 40, subdir="pkg", dirty=True),
    ]
    tags = {**repo_tags(repos), "mlrecipes.kind": "pipeline"}
    assert decode_repo_tags(tags) == {r.name: r for r in repos}


def test_overrides_read_back_and_refuse_what_is_no_mapping() -> None:
    tags = pipeline_tags(
        [],
        overrides={"train.lr": 0.1, "seed": 3},
        lock_hash="h",
        fingerprints="f",
        manifest_name="workspace.yaml",
        workspace_root="/w",
    )
    assert decode_overrides(tags["mlrecipes.overrides"]) == {"seed": 3, "train.lr": 0.1}
    assert decode_overrides(None) == decode_overrides("") == {}
    for bad in ("[1]", "{oops"):
        with pytest.raises(ValueError):
            decode_overrides(bad)


def test_summary_steps_read_back() -> None:
    tags = {
        **step_summary_tags("train", "fp", "hit", None),
        **step_summary_tags("eval", "f", "miss", "r"),
    }
    assert summary_steps({**tags, "mlrecipes.kind": "pipeline"}) == {"train", "eval"}
