"""The tree SHA of any folder of a resolved source (not only its ``subdir``).

An environment can import code from folders other than a repo's subdir: a uv
workspace member such as ``shared/`` next to it. Its identity is the tree SHA
of that folder at the source's commit, remembered in the checkout like the
subdir's (so asking again costs one small file read), or, for a dev copy with
edits, the folder's tree in the working tree as it is.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from mlrecipes.git_sources import _git, checkout
from mlrecipes.git_sources.spec import Resolved
from mlrecipes.git_sources.worktree import working_tree


def folder_of(source: Resolved, path: Path) -> str | None:
    """``path`` relative to the source's root (``""`` for the root), None when outside it."""
    try:
        rel = path.resolve().relative_to(source.path.resolve())
    except ValueError:
        return None
    return PurePosixPath(*rel.parts).as_posix() if rel.parts else ""


def folder_tree(source: Resolved, rel: str) -> str | None:
    """The tree SHA of folder ``rel`` of ``source``; None when it is no folder there."""
    sub = rel or None
    if sub == source.subdir:
        return source.tree
    if source.dirty:
        # Not cached: any edit anywhere in the working copy may change it.
        return _git.subtree(source.path, working_tree(source.path), sub)
    tree = checkout.cached_tree(source.path, source.commit, sub)
    if tree is not None:
        return tree
    tree = _git.tree_of(source.path, source.commit, sub)
    # Only checkouts made by this package (a detached HEAD) get the cache file,
    # never a user's own working copy.
    if tree is not None and checkout.read_head(source.path) == source.commit:
        checkout.remember_tree(source.path, source.commit, sub, tree)
    return tree
