"""``uses:`` in the manifest model and in the lock."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from mlrecipes.core.manifest import load_manifest
from mlrecipes.core.manifest.schema import manifest_json_schema
from mlrecipes.core.sync.lock import Lock, LockedRepo, parse_lock


def test_code_repos_are_the_repo_then_its_uses_transitively(tmp_path: Path) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_text(
        textwrap.dedent(
            """
            version: 1
            name: t
            repos:
              base: {url: ../base, rev: main}
              lib: {url: ../lib, rev: main, uses: [base]}
              plain: {url: ../plain, rev: main, uses: [base]}
              app: {url: ../app, rev: main, uses: [lib, plain]}
            """
        )
    )
    manifest = load_manifest(path)
    assert manifest.repos["app"].uses == ("lib", "plain")
    assert manifest.code_repos("app") == ("app", "lib", "base", "plain")
    assert manifest.code_repos("base") == ("base",)


def test_the_lock_keeps_uses_and_git_refs_and_omits_them_when_empty() -> None:
    plain = LockedRepo("../a", "main", "a" * 40, None, "t" * 40, "e" * 64)
    using = LockedRepo(
        "../b", "main", "b" * 40, None, "u" * 40, "f" * 64,
        uses=("a",), git_refs={"https://x.org/p.git@main": "c" * 40},
    )  # fmt: skip
    lock = Lock({"a": plain, "b": using})
    text = lock.dumps()
    data = yaml.safe_load(text)["repos"]
    assert set(data["a"]) == {"url", "rev", "commit", "subdir", "tree", "env"}
    assert data["b"]["uses"] == ["a"]
    assert parse_lock(text, path=Path("workspace.lock")) == lock


def test_schema_knows_uses() -> None:
    repo = manifest_json_schema()["$defs"]["repo"]["properties"]
    assert repo["uses"]["type"] == "array"
