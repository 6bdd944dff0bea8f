"""Which URL ``reproduce`` fetches each repo from: the recorded one, never a stranger's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrecipes.core.errors import ReproduceError
from mlrecipes.core.reproduce.materialize import materialized_manifest, source_urls
from mlrecipes.core.reproduce.origin import LoggedRun
from mlrecipes.core.sync.lock import Lock, LockedRepo

MANIFEST = """version: 1
name: t
repos:
  feats: {url: ../features.git, rev: main}  # kept
  lonely: {url: ../lonely, rev: main}
  remote: {url: "https://host/r.git", rev: main}
steps: {}
"""


def _logged(tmp_path: Path, tags: dict[str, str], root: str | None = None) -> LoggedRun:
    manifest = tmp_path / "workspace.yaml"
    manifest.write_text(MANIFEST)
    return LoggedRun(
        run_id="r1",
        tags=tags,
        manifest_file=manifest,
        lock_file=tmp_path / "workspace.lock",
        manifest_name="workspace.yaml",
        workspace_root=Path(root) if root else None,
        overrides={},
        steps=(),
    )


def _lock(*names: str) -> Lock:
    urls = {"feats": "../features.git", "lonely": "../lonely", "remote": "https://host/r.git"}
    return Lock({n: LockedRepo(urls[n], "main", "c" * 40, None, "t" * 40) for n in names})


def test_recorded_fetchable_urls_replace_local_paths(tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    tags = {
        "mlrecipes.repo.feats.url": "git@host:team/features.git",
        "mlrecipes.repo.lonely.url": str(here),
        "mlrecipes.repo.lonely.local_only": "true",
        "mlrecipes.repo.remote.url": "https://host/r.git",
    }
    logged = _logged(tmp_path, tags)  # no workspace_root: none is needed
    urls = source_urls(logged, _lock("feats", "lonely", "remote"))
    assert urls == {"feats": "git@host:team/features.git", "lonely": str(here)}
    (tmp_path / "workspace.lock").write_text(_lock("feats", "lonely", "remote").dumps())
    text = materialized_manifest(logged)
    assert 'feats: {url: "git@host:team/features.git", rev: main}  # kept' in text
    assert 'url: "https://host/r.git"' in text


def test_a_local_only_repo_this_machine_lacks_is_refused_by_name(tmp_path: Path) -> None:
    tags = {
        "mlrecipes.repo.lonely.url": "/home/someone/lonely",
        "mlrecipes.repo.lonely.local_only": "true",
    }
    with pytest.raises(ReproduceError) as info:
        source_urls(_logged(tmp_path, tags, root="/home/someone/ws"), _lock("lonely"))
    assert "'lonely'" in info.value.message and "local-only" in info.value.message
    assert "/home/someone/lonely" in info.value.message
    assert info.value.hint is not None and "git remote add" in info.value.hint


def test_runs_logged_before_fetchable_urls_resolve_against_the_workspace_root(
    tmp_path: Path,
) -> None:
    tags = {"mlrecipes.repo.feats.url": "../features.git"}  # as older versions recorded it
    logged = _logged(tmp_path, tags, root="/w/ws")
    assert source_urls(logged, _lock("feats")) == {"feats": "/w/features.git"}
