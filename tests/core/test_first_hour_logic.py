"""Logic behind the first-hour fixes, without git or uv: init's template, the nearest
execution a dry-run explains against, and how sweep variants are named."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import load_manifest
from mlrecipes.core.manifest.template import NewRepo, init_workspace
from mlrecipes.core.plan.explain import NEVER_RUN, explain_change, nearest_reasons
from mlrecipes.core.plan.labels import execution_labels, variant_label
from mlrecipes.core.plan.planner import Plan

TREE_A, TREE_B = "a" * 40, "b" * 40
COMMIT_1, COMMIT_2 = "1" * 40, "2" * 40


@pytest.mark.parametrize(
    "repos",
    [
        [],
        [NewRepo("feats", "../feats")],
        [NewRepo("feats", "git@github.com:o/f.git", "1.10", "pkg/x"), NewRepo("m", "../m")],
    ],
)
def test_init_writes_a_manifest_that_validates(tmp_path: Path, repos: list[NewRepo]) -> None:
    result = init_workspace(tmp_path / "workspace.yaml", repos)
    manifest = load_manifest(result.manifest)
    assert list(manifest.repos) == [r.name for r in repos]
    # "1.10" stays text; a repo given without a rev that cannot be asked gets main
    assert [r.rev for r in manifest.repos.values()] == [r.rev or "main" for r in repos]
    assert [(c.repo, c.rev) for c in result.chosen] == [
        (r.name, "main") for r in repos if not r.rev
    ]
    assert all(c.problem for c in result.chosen)  # ../feats is no repository: said why
    assert list(manifest.steps) == (["hello"] if repos else [])


def test_init_never_overwrites_and_keeps_the_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\noutputs")  # no final newline
    init_workspace(tmp_path / "workspace.yaml")
    assert (
        tmp_path / ".gitignore"
    ).read_text() == "*.pyc\noutputs\n.mlrecipes/\nworkspace.local.yaml\n"
    with pytest.raises(UserError, match="already exists"):
        init_workspace(tmp_path / "workspace.yaml")
    with pytest.raises(UserError, match="twice"):
        init_workspace(tmp_path / "b.yaml", [NewRepo("a", "x"), NewRepo("a", "y")])


def _components(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "fn": "a:m.f",
        "code": f"a@{TREE_A}",
        "commit": f"a@{COMMIT_1}",
        "dirty": False,
        "env": "e",
        "params": {"x": 1, "y": 2},
        "inputs": {},
        "outputs": {},
    }
    return {**base, **changes}


def test_the_nearest_execution_explains_the_rerun() -> None:
    baseline = _components()
    sweep = [_components(params={"x": 5, "y": 2}), _components(params={"x": 6, "y": 2})]
    now = _components(params={"x": 1, "y": 3})
    history = [*reversed(sweep), baseline]  # the latest first
    assert nearest_reasons(now, history) == ("params changed: y: 2 -> 3",)
    assert nearest_reasons(now, []) == (NEVER_RUN,)


def test_code_is_named_by_commit_and_trees_only_when_commits_are_equal() -> None:
    moved = _components(code=f"a@{TREE_B}", commit=f"a@{COMMIT_2}")
    assert explain_change(_components(), moved) == ("code changed: a@1111111 -> a@2222222",)
    edited = _components(code=f"a@{TREE_B}", dirty=True)
    (reason,) = explain_change(_components(), edited)
    assert reason == (
        "code changed: a@1111111 (tree aaaaaaa) -> "
        "a@1111111 with uncommitted changes (tree bbbbbbb)"
    )


def _plan(*overrides: dict[str, str], shared: str = "fp-shared") -> Plan:
    variants = []
    for index, sets in enumerate(overrides):
        steps = (SimpleNamespace(fingerprint=shared), SimpleNamespace(fingerprint=f"fp-{index}"))
        variants.append(SimpleNamespace(index=index, overrides=sets, steps=steps))
    return Plan(tuple(variants))  # type: ignore[arg-type]  # only the fields labels read


def test_variants_are_named_by_what_varies() -> None:
    plan = _plan({"train.lr": "0.1", "seed": "1"}, {"train.lr": "0.5", "seed": "1"})
    assert variant_label(plan, plan.variants[1]) == "variant 1: train.lr=0.5"
    labels = execution_labels(plan)
    assert labels == {
        "fp-shared": "all variants",
        "fp-0": "variant 0: train.lr=0.1",
        "fp-1": "variant 1: train.lr=0.5",
    }
    assert execution_labels(_plan({})) == {}


def test_init_ignores_the_local_overlay_with_real_git(tmp_path: Path) -> None:
    """The README calls ``workspace.local.yaml`` git-ignored: init makes it so."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    init_workspace(tmp_path / "workspace.yaml")
    init_workspace(tmp_path / "other.yaml")  # the overlay's name follows the manifest's
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines == [".mlrecipes/", "outputs/", "workspace.local.yaml", "other.local.yaml"]
    for name in ("workspace.local.yaml", "other.local.yaml"):
        (tmp_path / name).write_text("repos: {}\n")
        ignored = subprocess.run(["git", "-C", str(tmp_path), "check-ignore", "-q", name])
        assert ignored.returncode == 0, name
