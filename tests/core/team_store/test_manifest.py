"""The outputs manifest: canonical bytes, and nothing in it can point out of an entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrecipes.core.store.local import MARKER
from mlrecipes.core.team_store.manifest import (
    FileEntry,
    ManifestProblem,
    OutputsManifest,
    check_path,
    scan_entry,
    sha256_file,
    verify_file,
)

DIGEST = "a" * 64


def _raw(files: list[dict[str, object]], **extra: object) -> bytes:
    data = {"format": 1, "step": "s", "fingerprint": "f", "metrics": {}, "outputs": []}
    return json.dumps({**data, "files": files, **extra}).encode()


def test_round_trip_is_canonical() -> None:
    manifest = OutputsManifest(
        "train", "fp", (FileEntry("model/w.json", 3, DIGEST),), {"loss": 0.5}, ("model/w.json",)
    )
    raw = manifest.to_bytes()
    assert OutputsManifest.from_bytes(raw) == manifest
    assert OutputsManifest.from_bytes(raw).to_bytes() == raw


def test_the_code_record_travels_with_the_entry() -> None:
    code = {"version": 1, "files": [["feats", "a.py", "b" * 40]], "listings": [],
            "searches": [], "unseen": []}  # fmt: skip
    files = (FileEntry("o.txt", 1, DIGEST),)
    manifest = OutputsManifest("s", "fp", files, code=code, code_key="c" * 64)
    assert OutputsManifest.from_bytes(manifest.to_bytes()) == manifest
    # A key that is no store key is dropped (the entry then falls back to the tree rule).
    bad = OutputsManifest.from_bytes(_raw([], code=code, code_key="../x"))
    assert bad.code_key is None
    # Without a record the bytes are what they were before records existed.
    assert b"code" not in OutputsManifest("s", "fp", files).to_bytes()


@pytest.mark.parametrize(
    "path",
    ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/./b", "", "a\\..\\b", "a\x00b", MARKER],
)
def test_paths_that_escape_or_collide_are_refused(path: str) -> None:
    with pytest.raises(ManifestProblem, match="unsafe path"):
        check_path(path)
    with pytest.raises(ManifestProblem):
        OutputsManifest.from_bytes(_raw([{"path": path, "size": 1, "sha256": DIGEST}]))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        _raw([{"path": "a", "size": -1, "sha256": DIGEST}]),
        _raw([{"path": "a", "size": 1, "sha256": "xyz"}]),
        _raw([{"path": 5, "size": 1, "sha256": DIGEST}]),
        _raw([{"path": "a", "size": 1, "sha256": DIGEST}] * 2),
        _raw([], format=99),
        _raw([], outputs=["../out"]),
    ],
)
def test_malformed_manifests_are_refused(raw: bytes) -> None:
    with pytest.raises(ManifestProblem):
        OutputsManifest.from_bytes(raw)


def test_scan_lists_regular_files_without_the_marker(tmp_path: Path) -> None:
    tmp_path = tmp_path / "entry"
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "sub" / "x.bin").write_bytes(b"abc")
    (tmp_path / "t.txt").write_text("hello")
    (tmp_path / MARKER).write_text("{}")
    files = scan_entry(tmp_path)
    assert [(f.path, f.size) for f in files] == [("m/sub/x.bin", 3), ("t.txt", 5)]
    assert files[1].sha256 == sha256_file(tmp_path / "t.txt")


def test_scan_refuses_links(tmp_path: Path) -> None:
    tmp_path = tmp_path / "entry"
    tmp_path.mkdir()
    (tmp_path / "out").symlink_to("/etc")
    with pytest.raises(ManifestProblem, match="symbolic link"):
        scan_entry(tmp_path)


def test_verify_catches_size_checksum_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    good = FileEntry("f", 3, sha256_file(path))
    verify_file(path, good)
    with pytest.raises(ManifestProblem, match="size mismatch"):
        verify_file(path, FileEntry("f", 4, good.sha256))
    path.write_bytes(b"abd")
    with pytest.raises(ManifestProblem, match="checksum mismatch on f"):
        verify_file(path, good)
    path.unlink()
    path.symlink_to("/etc/hostname")
    with pytest.raises(ManifestProblem, match="not a regular file"):
        verify_file(path, good)
