"""dev_source: a working copy used as it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlrecipes.git_sources import NotARepositoryError, SubdirMissingError, dev_source

from .conftest import GitHelpers, Upstreams


@pytest.fixture
def work(upstreams: Upstreams, tmp_path: Path) -> Path:
    dest = tmp_path / "dev" / "mono"
    shutil.copytree(upstreams.mono, dest, symlinks=True)
    return dest


def test_clean_dev_copy_matches_head(
    work: Path, upstreams: Upstreams, gh: type[GitHelpers]
) -> None:
    res = dev_source("alpha", work, "packages/alpha")
    assert res.commit == upstreams.mono_main
    assert res.tree == gh.git(work, "rev-parse", "HEAD:packages/alpha")
    assert not res.dirty
    assert res.rev == "main"
    assert res.project_dir == work.resolve() / "packages" / "alpha"


def test_uncommitted_edit_changes_tree_not_index(work: Path, gh: type[GitHelpers]) -> None:
    clean = dev_source("alpha", work, "packages/alpha")
    index_before = (work / ".git" / "index").read_bytes()
    (work / "packages" / "alpha" / "alpha.py").write_text("A = 2\n")
    edited = dev_source("alpha", work, "packages/alpha")
    assert edited.tree != clean.tree and edited.dirty
    assert edited.commit == clean.commit
    assert (work / ".git" / "index").read_bytes() == index_before  # the user's index untouched
    assert gh.git(work, "status", "--porcelain") == "M packages/alpha/alpha.py"
    # An edit in another package changes the root tree, not alpha's.
    (work / "packages" / "alpha" / "alpha.py").write_text("A = 1\n")
    (work / "packages" / "beta" / "new.py").write_text("n = 1\n")
    other = dev_source("alpha", work, "packages/alpha")
    assert other.tree == clean.tree and other.dirty


def test_gitignore_is_honoured(work: Path) -> None:
    (work / ".gitignore").write_text("*.log\n__pycache__/\n")
    base = dev_source("mono", work, None)
    (work / "run.log").write_text("noise\n")
    (work / "packages" / "alpha" / "__pycache__").mkdir()
    (work / "packages" / "alpha" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert dev_source("mono", work, None).tree == base.tree
    (work / "notes.txt").write_text("counted\n")
    assert dev_source("mono", work, None).tree != base.tree


def test_bad_dev_copies(work: Path, tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError):
        dev_source("x", tmp_path / "nowhere", None)
    with pytest.raises(NotARepositoryError):
        dev_source("x", work / "packages", None)  # inside a repo, but not its root
    with pytest.raises(SubdirMissingError) as info:
        dev_source("x", work, "packages/gamma")
    assert "packages" in info.value.available
