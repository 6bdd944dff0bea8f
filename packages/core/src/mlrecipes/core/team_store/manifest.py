"""The checksum manifest of a shared store entry, and the rules its paths obey.

A step run's artifacts hold, under :data:`OUTPUTS_DIR`::

    mlrecipes/outputs/manifest.json      this manifest (format, step, fingerprint,
                                         metrics, outputs, files: path, size, sha256,
                                         and, when recorded, the entry's code record
                                         and key without code)
    mlrecipes/outputs/files/<path>       every file of the store entry

The run's tag ``mlrecipes.outputs.sha256`` holds the SHA-256 of the manifest's
bytes and is set last, so a run with that tag has a complete upload, and a
manifest changed on the server's side no longer matches it. Nothing downloaded
is trusted before its size and SHA-256 match.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlrecipes.core.store.local import MARKER

OUTPUTS_DIR = "mlrecipes/outputs"
FILES_DIR = f"{OUTPUTS_DIR}/files"
MANIFEST_NAME = "manifest.json"
MANIFEST_PATH = f"{OUTPUTS_DIR}/{MANIFEST_NAME}"
FORMAT_VERSION = 1
_CHUNK = 1 << 20


class ManifestProblem(ValueError):
    """An outputs manifest, or the files it describes, cannot be trusted."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a store entry: its path inside the entry, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OutputsManifest:
    """What a shared entry holds; enough to rebuild its completion marker."""

    step: str
    fingerprint: str
    files: tuple[FileEntry, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    code: Mapping[str, Any] | None = None
    """The entry's code record (mlrecipes.core.codedeps), shared with it."""
    code_key: str | None = None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def to_bytes(self) -> bytes:
        """Canonical JSON: the same manifest always gives the same bytes."""
        data = {
            "format": FORMAT_VERSION,
            "step": self.step,
            "fingerprint": self.fingerprint,
            "metrics": dict(self.metrics),
            "outputs": list(self.outputs),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        if self.code is not None and self.code_key is not None:
            # Optional keys: readers from before records ignore them (format unchanged).
            data.update(code=dict(self.code), code_key=self.code_key)
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> OutputsManifest:
        """Parse and check a downloaded manifest; raises :class:`ManifestProblem`."""
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT_VERSION:
                raise ManifestProblem(f"unknown manifest format {data.get('format')!r}")
            files = tuple(_file_entry(item) for item in data["files"])
            manifest = cls(
                step=str(data["step"]),
                fingerprint=str(data["fingerprint"]),
                files=files,
                metrics={str(k): float(v) for k, v in data["metrics"].items()},
                outputs=tuple(check_path(str(p)) for p in data["outputs"]),
                code=data["code"] if isinstance(data.get("code"), dict) else None,
                code_key=_code_key(data.get("code_key")),
            )
        except ManifestProblem:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestProblem(f"malformed outputs manifest: {exc}") from None
        if len({f.path for f in files}) != len(files):
            raise ManifestProblem("the outputs manifest names a file twice")
        return manifest


def _code_key(value: Any) -> str | None:
    """A key without code as the store indexes it (hex), or None."""
    if isinstance(value, str) and len(value) == 64 and _is_hex(value):
        return value
    return None


def _file_entry(item: Any) -> FileEntry:
    size, digest = item["size"], item["sha256"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestProblem(f"bad size {size!r} in the outputs manifest")
    if not isinstance(digest, str) or len(digest) != 64 or not _is_hex(digest):
        raise ManifestProblem(f"bad sha256 {digest!r} in the outputs manifest")
    return FileEntry(check_path(item["path"]), size, digest)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def check_path(path: object) -> str:
    """``path`` if it names a place inside an entry; raises :class:`ManifestProblem`.

    Refused: absolute paths, ``..``, ``.`` and empty parts, backslashes, control
    characters, and the entry's own marker (which the store writes itself).
    """
    if not isinstance(path, str):
        raise ManifestProblem(f"bad path {path!r} in the outputs manifest")
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(ord(c) < 32 for c in path)
        or any(part in ("", ".", "..") for part in parts)
        or parts[0] == MARKER
        or PurePosixPath(path).is_absolute()
    ):
        raise ManifestProblem(f"unsafe path {path!r} in the outputs manifest")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def scan_entry(entry: Path) -> tuple[FileEntry, ...]:
    """Every regular file of a store entry (the marker left out), sorted by path.

    Raises :class:`ManifestProblem` for a symbolic link or a special file: a
    link could point out of the entry on the machine that downloads it.
    """
    found: list[FileEntry] = []
    for folder, dirs, files in os.walk(entry):
        for name in sorted([*dirs, *files]):
            path = Path(folder) / name
            mode = path.lstat().st_mode
            rel = path.relative_to(entry).as_posix()
            if stat.S_ISLNK(mode):
                raise ManifestProblem(f"output {rel!r} is a symbolic link")
            if stat.S_ISREG(mode) and rel != MARKER:
                found.append(FileEntry(check_path(rel), path.stat().st_size, sha256_file(path)))
            elif not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                raise ManifestProblem(f"output {rel!r} is not a regular file")
    return tuple(sorted(found, key=lambda f: f.path))


def verify_file(path: Path, expected: FileEntry) -> None:
    """Raise :class:`ManifestProblem` unless ``path`` is a regular file as described."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise ManifestProblem(f"{expected.path} is missing from the download") from None
    if not stat.S_ISREG(info.st_mode):
        raise ManifestProblem(f"{expected.path} is not a regular file")
    if info.st_size != expected.size:
        raise ManifestProblem(
            f"size mismatch on {expected.path}: {info.st_size} bytes, expected {expected.size}"
        )
    if sha256_file(path) != expected.sha256:
        raise ManifestProblem(f"checksum mismatch on {expected.path}")
