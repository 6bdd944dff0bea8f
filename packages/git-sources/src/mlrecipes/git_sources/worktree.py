"""Dev copies: a local working copy used as it is, uncommitted changes included.

Its identity is the tree SHA of the working tree, computed without touching the
user's index: the index is copied to a temporary file (so git reuses its stat
cache), ``GIT_INDEX_FILE`` points there, ``git add -A`` stages everything that
``.gitignore`` does not ignore, and ``git write-tree`` prints the tree. The
blobs it writes are ordinary loose objects that ``git gc`` prunes in time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath

from mlrecipes.git_sources import _git
from mlrecipes.git_sources.errors import NotARepositoryError, SubdirMissingError
from mlrecipes.git_sources.spec import Resolved


def dev_source(name: str, path: Path, subdir: str | None) -> Resolved:
    """A :class:`Resolved` for the working copy at ``path`` (its repository root).

    ``commit`` is HEAD, ``tree`` the tree SHA of ``subdir`` (or the root) in the
    working tree as it is, and ``dirty`` is True when that tree differs from
    HEAD's; ``rev`` is the current branch, or ``HEAD`` when detached.
    """
    root = path.expanduser().resolve()
    if not (root / ".git").exists() or not _git.is_repository(root):
        raise NotARepositoryError(
            f"{name}: dev copy {root} is not the root of a git working copy",
            path=root,
            hint="give the folder that holds .git",
        )
    try:
        head = _git.run(["rev-parse", "--verify", "HEAD^{commit}"], cwd=root).strip()
    except _git.GitFailed:
        raise NotARepositoryError(
            f"{name}: dev copy {root} has no commit yet", path=root, hint="commit once"
        ) from None
    tree = working_tree(root)
    head_tree = _git.run(["rev-parse", "HEAD^{tree}"], cwd=root).strip()
    sub = str(PurePosixPath(subdir)) if subdir else None
    sub_tree = _git.subtree(root, tree, sub)
    if sub_tree is None:  # only a subdir can be missing
        raise SubdirMissingError(name=name, subdir=sub or "", commit=head, available=_folders(root))
    branch = _git.run(["rev-parse", "--abbrev-ref", "HEAD"], cwd=root).strip()
    return Resolved(
        name=name,
        url=str(root),
        rev=branch or "HEAD",
        commit=head,
        subdir=sub,
        tree=sub_tree,
        path=root,
        dirty=tree != head_tree,
    )


def working_tree(root: Path) -> str:
    """The tree SHA of the working tree at ``root``, leaving the user's index untouched."""
    index = Path(_git.run(["rev-parse", "--git-path", "index"], cwd=root).strip())
    if not index.is_absolute():
        index = root / index
    with tempfile.TemporaryDirectory(prefix="mlrecipes-index-") as tmp:
        tmp_index = Path(tmp) / "index"
        if index.is_file():
            # copy2 keeps the index's mtime: with a new one, git would trust the
            # cached stat data of files edited in the same second ("racy git")
            # and miss those edits.
            shutil.copy2(index, tmp_index)
        env = {"GIT_INDEX_FILE": str(tmp_index)}
        _git.run(["add", "--all", "--", "."], cwd=root, env=env)
        return _git.run(["write-tree"], cwd=root, env=env).strip()


def _folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != ".git")
