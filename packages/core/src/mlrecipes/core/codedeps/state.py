"""What a checkout holds now: blob SHAs of files, digests of folder listings.

Files hash as git hashes a blob (``sha1("blob <size>\\0" + bytes)``), so a
record reads like ``git ls-tree``; memoized per (path, size, mtime, inode) for
one process, since a plan may verify many records naming the same files.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

MISSING = "missing"


def blob_sha(path: Path) -> str:
    """The git blob SHA of ``path``'s content, or ``missing``; a folder hashes its listing."""
    try:
        st = path.stat()
    except OSError:
        return MISSING
    if path.is_dir():
        return "dir:" + listing_digest(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _LOCK:
        known = _MEMO.get(key)
    if known is not None:
        return known
    sha = hashlib.sha1(b"blob %d\0" % st.st_size, usedforsecurity=False)
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                sha.update(chunk)
    except OSError:
        return MISSING
    value = sha.hexdigest()
    with _LOCK:
        _MEMO[key] = value
    return value


def names(folder: Path) -> list[str]:
    """The sorted entries of ``folder`` (empty when it is missing or unreadable)."""
    try:
        return sorted(os.listdir(folder))  # noqa: PTH208 (names, not paths)
    except OSError:
        return []


def listing_digest(folder: Path) -> str:
    """sha256 of the sorted names in ``folder`` (``missing`` when it cannot be listed)."""
    try:
        entries = sorted(os.listdir(folder))  # noqa: PTH208 (names, not paths)
    except OSError:
        return MISSING
    return hashlib.sha256("\0".join(entries).encode("utf-8", "surrogateescape")).hexdigest()


def shadowing(folder: Path, name: str) -> list[str]:
    """Entries of ``folder`` the import system could take for module ``name``
    (``name``, ``name.py``, ``name.<abi>.so``, ...): any entry ``name`` or ``name.*``."""
    return [n for n in names(folder) if n == name or n.startswith(name + ".")]


_MEMO: dict[tuple[str, int, int, int], str] = {}
_LOCK = threading.Lock()
