"""Fingerprints: a persistence format, pinned by golden tests.

A value is hashed through a canonical, type-tagged, length-prefixed encoding
(so no two different values share bytes, whatever their strings contain)::

    None    -> n
    bool    -> b1 / b0           (checked before int: True is not 1)
    int     -> i<decimal>;
    float   -> f<float.hex()>;   exact; -0.0 differs from 0.0; every NaN is
                                 f nan (payload and sign dropped); inf, -inf kept
    str     -> s<utf-8 length>:<utf-8 bytes>
    bytes   -> y<length>:<bytes>
    list    -> l<count>[ items ]   (tuples hash as lists: YAML and JSON know lists only)
    mapping -> d<count>{ key value ... }  keys must be str, sorted by code point

Anything else (sets, paths, objects, non-str keys) raises :class:`TypeError`
naming its key path: a repr-based fallback would silently change hashes across
Python versions. :data:`FINGERPRINT_VERSION` is mixed into every digest;
bumping it invalidates every store entry on purpose.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from mlrecipes.core.atomic import write_text_atomic

FINGERPRINT_VERSION = 1
_SALT = f"mlrecipes-fingerprint-v{FINGERPRINT_VERSION}\0".encode()
_CACHE_VERSION = 1
# Files modified this recently are not cached: their mtime may not change on
# the next write within the same clock tick (git's "racily clean" problem).
_RACY_SECONDS = 2.0


def canonical_bytes(value: Any) -> bytes:
    """The canonical encoding of ``value`` (see the module docstring)."""
    out: list[bytes] = []
    _encode(value, out, "value")
    return b"".join(out)


def digest(value: Any) -> str:
    """sha256 hex of the salted canonical encoding of ``value``."""
    return hashlib.sha256(_SALT + canonical_bytes(value)).hexdigest()


def step_fingerprint(
    *, fn: str, code_tree: str, env_hash: str, params: Mapping[str, Any], inputs: Mapping[str, str]
) -> str:
    """The fingerprint of one step execution.

    ``inputs`` maps dependency names to ``"step:<fp>/<out>"`` for upstream
    outputs or ``"file:<sha256>"`` for external files (see :func:`hash_path`).
    """
    return digest(
        {
            "kind": "step",
            "fn": fn,
            "code_tree": code_tree,
            "env_hash": env_hash,
            "params": params,
            "inputs": inputs,
        }
    )


def _encode(value: Any, out: list[bytes], where: str) -> None:
    if value is None:
        out.append(b"n")
    elif isinstance(value, bool):
        out.append(b"b1" if value else b"b0")
    elif isinstance(value, int):
        out.append(b"i%d;" % int(value))
    elif isinstance(value, float):
        text = "nan" if value != value else float(value).hex()
        out.append(b"f" + text.encode() + b";")
    elif isinstance(value, str):
        data = str(value).encode("utf-8")
        out.append(b"s%d:" % len(data) + data)
    elif isinstance(value, bytes):
        out.append(b"y%d:" % len(value) + bytes(value))
    elif isinstance(value, list | tuple):
        out.append(b"l%d[" % len(value))
        for index, item in enumerate(value):
            _encode(item, out, f"{where}[{index}]")
        out.append(b"]")
    elif isinstance(value, Mapping):
        _encode_mapping(value, out, where)
    else:
        hint = (
            " (hash its content with hash_path() or pass str(path))"
            if isinstance(value, os.PathLike)
            else ""
        )
        raise TypeError(f"cannot fingerprint {where}: {type(value).__name__} is not hashable{hint}")


def _encode_mapping(value: Mapping[Any, Any], out: list[bytes], where: str) -> None:
    for key in value:
        if not isinstance(key, str):
            raise TypeError(
                f"cannot fingerprint {where}: key {key!r} is {type(key).__name__}, not str"
            )
    out.append(b"d%d{" % len(value))
    for key in sorted(value):
        _encode(key, out, where)
        _encode(value[key], out, f"{where}.{key}")
    out.append(b"}")


# --- content hashes of files and folders ---


def hash_path(path: Path, *, cache_file: Path | None = None) -> str:
    """sha256 hex of a file's bytes, or of a folder tree.

    A file hashes to the plain sha256 of its bytes (what ``sha256sum``
    prints). A folder hashes its sorted relative names (``/``-separated), each
    file's hash and executable bit, and empty subfolders. Symlinks are
    followed: what counts is the content, not how it is stored; a broken
    link or a link cycle is an error. ``cache_file`` names a JSON file that
    remembers file hashes by (path, size, mtime_ns, inode), so re-hashing an
    unchanged data set costs one ``stat`` per file. Files modified in the last
    two seconds are not remembered (their next write may keep the same mtime).
    """
    if not path.exists():
        raise FileNotFoundError(f"cannot hash {path}: no such file or folder")
    with closing(_HashCache(cache_file)) as memo:
        if not path.is_dir():
            return memo.file_hash(path)
        tree = hashlib.sha256(b"mlrecipes-tree-v1\0")
        for rel, full in _walk(path):
            if full.is_dir():
                tree.update(b"D" + _len_prefixed(rel))
                continue
            mode = full.stat().st_mode
            exec_bit = b"x" if mode & stat.S_IXUSR else b"-"
            tree.update(b"F" + _len_prefixed(rel) + exec_bit + memo.file_hash(full).encode())
        return tree.hexdigest()


def _len_prefixed(text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    return b"%d:" % len(data) + data


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of every file and empty folder, sorted, links followed."""
    seen = {os.path.realpath(root)}

    def visit(folder: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        names = sorted(os.listdir(folder))  # noqa: PTH208 (names, not paths, are sorted)
        if not names and prefix:
            yield prefix.rstrip("/"), folder
        for name in names:
            full = folder / name
            if not full.exists():
                why = "symlink loop" if _is_loop(full) else "broken symlink"
                raise FileNotFoundError(f"cannot hash {full}: {why}")
            if full.is_dir():
                real = os.path.realpath(full)
                if real in seen:
                    raise ValueError(f"cannot hash {full}: symlink cycle")
                seen.add(real)
                yield from visit(full, f"{prefix}{name}/")
                seen.discard(real)
            else:
                yield f"{prefix}{name}", full

    yield from visit(root, "")


def _is_loop(path: Path) -> bool:
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


class _HashCache:
    """File hashes by (path, size, mtime_ns, inode) in a JSON file (like DVC's state db).

    Concurrent writers may drop each other's new entries (last write wins);
    that only costs a re-hash, never a wrong hash.
    """

    def __init__(self, location: Path | None) -> None:
        self.location = location
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        if location is not None:
            try:
                data = json.loads(location.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("version") == _CACHE_VERSION:
                self.entries = data["files"]

    def file_hash(self, path: Path) -> str:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            # A FIFO blocks, /dev/zero never ends, a socket cannot be read: none is data.
            raise NotAFileError(f"cannot hash {path}: {_kind(st.st_mode)}, not a regular file")
        if self.location is None:
            return _sha256_file(path)
        key = str(path.absolute())  # not resolve(): one stat per file is the point
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = self.entries.get(key)
        if hit is not None and hit[:3] == stamp:
            return str(hit[3])
        value = _sha256_file(path)
        if time.time_ns() - st.st_mtime_ns > _RACY_SECONDS * 1e9:
            self.entries[key] = [*stamp, value]
            self.dirty = True
        return value

    def close(self) -> None:
        if self.location is None or not self.dirty:
            return
        data = {"version": _CACHE_VERSION, "files": self.entries}
        write_text_atomic(self.location, json.dumps(data, separators=(",", ":")))


class NotAFileError(ValueError):
    """A dependency that is neither a regular file nor a folder (FIFO, device, socket)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
