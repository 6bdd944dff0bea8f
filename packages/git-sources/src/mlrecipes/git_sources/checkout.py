"""Checkouts: each repository at its exact commit, detached, in ``<checkouts_dir>/<name>/``.

A checkout is built beside its final place (``<name>.tmp-XXXX``) and renamed
into it, so a half-built checkout is never taken as ready. It is a plain local
clone of the mirror (objects hard-linked when on the same filesystem, copied
otherwise), so it keeps working if the mirror cache is deleted; its ``origin``
is the upstream's redacted URL so a user can fetch from it by hand.

The state check reads ``.git/HEAD`` directly and asks git once
(``git status``) whether the work tree was edited; untracked files count as
edits unless ``.gitignore`` ignores them (the same rule a dev copy's tree
SHA follows).

The tree SHA of ``<commit>:<subdir>`` never changes (objects are content
addressed), so once read it is kept in ``.git/mlrecipes-trees.json`` of the
checkout: a no-op sync then needs ``git status`` only, no object reads.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import Literal

from mlrecipes.git_sources import _git
from mlrecipes.git_sources.errors import DiskFaultError

State = Literal["missing", "clean", "dirty", "wrong-commit"]

# Files that running code writes next to itself (bytecode, editable-install
# metadata) are not edits: they go to the checkout's own exclude file, so that
# running a step never turns its checkout "dirty".
GENERATED = ("__pycache__/", "*.py[cod]", "*.egg-info/", ".eggs/")
TREES_FILE = "mlrecipes-trees.json"


def read_head(path: Path) -> str | None:
    """The detached commit in ``path/.git/HEAD``, None if it is no detached checkout."""
    try:
        head = (path / ".git" / "HEAD").read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return head if len(head) == 40 else None


def checkout_state(path: Path, commit: str) -> State:
    """Whether the checkout at ``path`` is missing, clean at ``commit``, dirty, or elsewhere.

    "dirty" wins over "wrong-commit": a folder that is not a checkout made by
    this package (no detached ``.git/HEAD``) also counts as dirty, since
    replacing it could throw away someone's work.
    """
    if not path.exists():
        return "missing"
    head = read_head(path)
    if head is None or is_dirty(path):
        return "dirty"
    return "clean" if head == commit else "wrong-commit"


def is_dirty(path: Path) -> bool:
    """True when tracked files changed or non-ignored untracked files appeared."""
    try:
        out = _git.run(["status", "--porcelain", "--untracked-files=normal"], cwd=path)
    except _git.GitFailed as exc:
        fault = exc.disk_fault(path)
        if fault is not None:  # a full disk is no local change: say what it is
            raise DiskFaultError(name=path.name, path=path, what=fault, detail=exc.stderr) from None
        return True  # a broken checkout is not one to trust, nor to delete silently
    return bool(out.strip())


def cached_tree(path: Path, commit: str, subdir: str | None) -> str | None:
    """The tree SHA of ``<commit>:<subdir>`` remembered in the checkout, None if unknown."""
    tree = _read_trees(path).get(_tree_key(commit, subdir))
    return tree if isinstance(tree, str) and _is_sha(tree) else None


def remember_tree(path: Path, commit: str, subdir: str | None, tree: str) -> None:
    """Remember a tree SHA in the checkout (call under its lock); best effort."""
    trees = _read_trees(path)
    if trees.get(_tree_key(commit, subdir)) == tree:
        return
    trees[_tree_key(commit, subdir)] = tree
    target = path / ".git" / TREES_FILE
    tmp = target.with_name(f"{TREES_FILE}.tmp-{secrets.token_hex(4)}")
    try:
        tmp.write_text(json.dumps(trees, sort_keys=True))
        tmp.replace(target)  # atomic: a reader never sees half a file
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only checkout only loses the shortcut


def _tree_key(commit: str, subdir: str | None) -> str:
    return f"{commit}:{subdir or ''}"


def _read_trees(path: Path) -> dict[str, object]:
    try:
        data = json.loads((path / ".git" / TREES_FILE).read_text())
    except (OSError, ValueError):
        return {}  # missing or damaged: read the trees again
    return data if isinstance(data, dict) else {}


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def clean_stale(checkouts_dir: Path, name: str) -> None:
    """Remove build folders a killed sync left beside ``name`` (call under its lock)."""
    for pattern in (f"{name}.tmp-*", f"{name}.old-*"):
        for stale in checkouts_dir.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def materialize(mirror: Path, commit: str, final: Path, origin_url: str) -> None:
    """Build a detached checkout of ``commit`` beside ``final``, then swap it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{final.name}.tmp-{secrets.token_hex(4)}"
    try:
        _git.run(["clone", "--no-checkout", "--quiet", "--template=", "--", str(mirror), str(tmp)])
        _git.run(["remote", "set-url", "origin", origin_url], cwd=tmp)
        exclude = tmp / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text("".join(f"{pattern}\n" for pattern in GENERATED))
        _git.run(
            ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit],
            cwd=tmp,
        )
        _swap(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap(tmp: Path, final: Path) -> None:
    """Put ``tmp`` at ``final``; an old checkout is moved aside first, then deleted."""
    old: Path | None = None
    if final.exists():
        old = final.parent / f"{final.name}.old-{secrets.token_hex(4)}"
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
