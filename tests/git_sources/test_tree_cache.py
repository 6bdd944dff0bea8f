"""The tree-SHA cache of a checkout: a no-op pinned sync needs `git status` only, no GitPython."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlrecipes.git_sources import (
    DirtyCheckoutError,
    SourceSpec,
    UnsafeSourceError,
    _git,
    dev_source,
    folder_of,
    folder_tree,
    sync_sources,
)

from .conftest import GitHelpers, Upstreams


def _trees(checkout: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((checkout / ".git" / "mlrecipes-trees.json").read_text())
    return data


def test_sync_remembers_the_tree_of_each_checkout(
    upstreams: Upstreams, tmp_path: Path, gh: type[GitHelpers]
) -> None:
    specs = [
        SourceSpec("app", str(upstreams.app), "v1.0"),
        SourceSpec("alpha", str(upstreams.mono), "main", subdir="packages/alpha/"),
    ]
    app, alpha = sync_sources(specs, checkouts_dir=tmp_path / "co", cache_dir=tmp_path / "c")
    assert _trees(app.path) == {
        f"{upstreams.v1_0}:": gh.git(upstreams.app, "rev-parse", "v1.0^{tree}")
    }
    alpha_tree = gh.git(upstreams.mono, "rev-parse", "main:packages/alpha")
    assert _trees(alpha.path) == {f"{upstreams.mono_main}:packages/alpha": alpha_tree}
    # The cache file lives in .git: the checkout stays clean.
    assert _git.run(["status", "--porcelain"], cwd=app.path) == ""


def test_pinned_noop_sync_reads_the_cache_not_the_objects(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    spec = SourceSpec("app", str(upstreams.app), "main")
    kw = {"checkouts_dir": tmp_path / "co", "cache_dir": tmp_path / "c"}
    (first,) = sync_sources([spec], **kw)  # type: ignore[arg-type]
    cache = first.path / ".git" / "mlrecipes-trees.json"
    # A value only the cache can give proves the no-op sync took it from there.
    fake = "f" * 40
    cache.write_text(json.dumps({f"{first.commit}:": fake}))
    (again,) = sync_sources([spec], pinned={"app": first.commit}, **kw)  # type: ignore[arg-type]
    assert again.tree == fake
    # Damaged or missing: the tree is read again, and remembered.
    for damage in ("{not json", None):
        if damage is None:
            cache.unlink()
        else:
            cache.write_text(damage)
        (healed,) = sync_sources([spec], pinned={"app": first.commit}, **kw)  # type: ignore[arg-type]
        assert healed.tree == first.tree == _trees(first.path)[f"{first.commit}:"]


def test_cached_tree_does_not_hide_an_edit(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec("app", str(upstreams.app), "v1.0")
    kw = {"checkouts_dir": tmp_path / "co", "cache_dir": tmp_path / "c"}
    (res,) = sync_sources([spec], **kw)  # type: ignore[arg-type]
    (res.path / "app" / "__init__.py").write_text("VERSION = 'edited'\n")
    with pytest.raises(DirtyCheckoutError):
        sync_sources([spec], pinned={"app": upstreams.v1_0}, **kw)  # type: ignore[arg-type]


def test_noop_sync_in_a_fresh_process_never_imports_gitpython(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    spec = SourceSpec("alpha", str(upstreams.mono), "main", subdir="packages/alpha")
    (res,) = sync_sources([spec], checkouts_dir=tmp_path / "co", cache_dir=tmp_path / "c")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from mlrecipes.git_sources import SourceSpec, sync_sources
        spec = SourceSpec("alpha", {str(upstreams.mono)!r}, "main", subdir="packages/alpha")
        (res,) = sync_sources(
            [spec], checkouts_dir=Path({str(tmp_path / "co")!r}),
            cache_dir=Path({str(tmp_path / "c")!r}), pinned={{"alpha": {res.commit!r}}},
        )
        print(res.tree, "git" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [res.tree, "False"]


@pytest.mark.parametrize("url", ["ext::sh -c id", "fd::17", "ext://sh", "::x"])
def test_unsafe_transports_are_refused_with_and_without_gitpython(url: str) -> None:
    with pytest.raises(UnsafeSourceError):
        _git.check_protocol(url, url)
    with pytest.raises(UnsafeSourceError):
        _git.check_fetch_url(url, url)
    _git.check_fetch_url("https://example.invalid/x.git", "https://example.invalid/x.git")


def test_any_folder_of_a_checkout_has_its_tree_remembered(
    upstreams: Upstreams, tmp_path: Path, gh: type[GitHelpers]
) -> None:
    spec = SourceSpec("alpha", str(upstreams.mono), "main", subdir="packages/alpha")
    (alpha,) = sync_sources([spec], checkouts_dir=tmp_path / "co", cache_dir=tmp_path / "c")
    beta = alpha.path / "packages" / "beta"
    assert folder_of(alpha, beta) == "packages/beta"
    assert folder_of(alpha, tmp_path) is None
    assert folder_tree(alpha, "packages/alpha") == alpha.tree
    expected = gh.git(upstreams.mono, "rev-parse", "main:packages/beta")
    assert folder_tree(alpha, "packages/beta") == expected
    assert _trees(alpha.path)[f"{alpha.commit}:packages/beta"] == expected
    assert folder_tree(alpha, "no/such/folder") is None


def test_a_dirty_dev_copy_gives_the_tree_of_its_working_tree(
    upstreams: Upstreams, tmp_path: Path, gh: type[GitHelpers]
) -> None:
    copy = tmp_path / "copy"
    gh.git(tmp_path, "clone", "-q", str(upstreams.mono), str(copy))
    before = dev_source("alpha", copy, "packages/alpha")
    beta_head = folder_tree(before, "packages/beta")
    (copy / "packages" / "beta" / "new.py").write_text("X = 1\n")
    (copy / "packages" / "alpha" / "edit.py").write_text("Y = 1\n")  # makes the copy dirty
    dirty = dev_source("alpha", copy, "packages/alpha")
    assert dirty.dirty
    assert folder_tree(dirty, "packages/beta") not in (None, beta_head)
    assert not (copy / ".git" / "mlrecipes-trees.json").exists()  # a user's copy: no cache file
