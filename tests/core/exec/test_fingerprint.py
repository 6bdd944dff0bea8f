"""Fingerprints are a persistence format: golden values pin it."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.fingerprint import (
    FINGERPRINT_VERSION,
    canonical_bytes,
    digest,
    hash_path,
    step_fingerprint,
)

# Computed once with FINGERPRINT_VERSION = 1. If one of these changes, every
# store entry of every user is invalidated: bump FINGERPRINT_VERSION instead.
GOLDEN: dict[str, tuple[Any, str]] = {
    "none": (None, "fed59acc096ae941ea8766856cba76d97ead01ddcacaf7880ace929c1a49e989"),
    "true": (True, "e0d59fc2791e02563e2f7865ef6e5897f48714cb5cb1ce405a83491ac6972139"),
    "one": (1, "9c18ce829e0d3f737c2ca979cd6e3423646a3e393203cee75bb775e2e0fcb070"),
    "one_float": (1.0, "6b97bb462f7588b3c49be675a0ee62b9dab7d53bbca954a9c46a4fc7887fc11f"),
    "str_one": ("1", "68ceb19b0438389b30ae32da04c2069b09dc420faa3a98f7d833cae2aba236dd"),
    "neg_zero": (-0.0, "bf8ebdb1f74ac12ffaade1b19f1b40ac38c42e61ce009eadc75199eadcb1d86f"),
    "nan": (float("nan"), "136bd1536707655edeab30e501f05c63798176e823e5569217bc037731f76c03"),
    "inf": (float("inf"), "fde5f0a2695f938f83a1778b5586e9e6a353671692656cb0f65610a671c63261"),
    "unicode": ("é😀", "dbbddfce1fea67f6b4e43f51cbe28aef3921e7d8787e8ebb2d1054d84f39cc64"),
    "list": ([1, "a", None], "7097dcf5d91e349b4c2214437cdd42320ca839741c1ff26e4649befa34658724"),
    "mapping": (
        {"b": 2, "a": [1.5, {"c": False}]},
        "11956fe8ef74003dc183daf2b549e2c7b9c4f64c47f42e94c98f96f8f1c1a566",
    ),
    "big": (2**100, "038d21446111dac7eeaca95a858494923dd322ca6b901aba7282a2c2c07e793c"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_digests(name: str) -> None:
    value, expected = GOLDEN[name]
    assert FINGERPRINT_VERSION == 1
    assert digest(value) == expected


def test_golden_canonical_bytes() -> None:
    value = {"b": 2, "a": [1.5, {"c": False}]}
    assert canonical_bytes(value) == b"d2{s1:al2[f0x1.8000000000000p+0;d1{s1:cb0}]s1:bi2;}"


def test_golden_step_fingerprint() -> None:
    fp = step_fingerprint(
        fn="features:pkg.mod.func",
        code_tree="a" * 40,
        env_hash="e" * 64,
        params={"lr": 0.1, "epochs": 5, "seed": 42},
        inputs={"features": "step:" + "f" * 64 + "/features", "raw": "file:" + "0" * 64},
    )
    assert fp == "2f3c69c521e1aa5aa2a410e693531937e57c19f9cc8a1143230178ad542bda6e"


def test_golden_hash_path(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "empty").mkdir()
    (tree / "a.txt").write_bytes(b"hello\n")
    (tree / "sub" / "b.bin").write_bytes(b"x")
    (tree / "sub" / "b.bin").chmod(0o755)
    # a file hashes like sha256sum
    assert hash_path(tree / "a.txt") == (
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    )
    assert hash_path(tree) == "ea7a87d442c3805e6d1fae09805f8579b0f527afed90ad2fddfae7f122cdab50"


def test_key_order_does_not_matter() -> None:
    a = {"x": 1, "y": {"p": [1, 2], "q": None}}
    b = OrderedDict([("y", OrderedDict([("q", None), ("p", [1, 2])])), ("x", 1)])
    assert digest(a) == digest(b)


def test_types_are_distinguished() -> None:
    values: list[Any] = [1, 1.0, True, "1", [1], {"1": 1}, None, "", 0, 0.0, -0.0, False, b"1"]
    assert len({digest(v) for v in values}) == len(values)


def test_no_ambiguity_between_structures() -> None:
    # length prefixes: separators inside strings cannot forge structure
    assert digest(["a", "b"]) != digest(["a,b"])
    assert digest({"a": "b", "c": "d"}) != digest({"a": "b\x00c", "": "d"})
    assert digest([[1], 2]) != digest([1, [2]])
    assert digest((1, 2)) == digest([1, 2])  # tuples are lists (YAML and JSON have lists only)


def test_float_precision_kept() -> None:
    assert digest(0.1 + 0.2) != digest(0.3)
    assert digest(float("nan")) == digest(-float("nan"))


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": {1, 2}}, "value.a"),
        ({"a": [Path("x")]}, "value.a[0]"),
        ({"a": {1.5: "x"}}, "value.a: key 1.5"),
        ([object()], "value[0]"),
    ],
)
def test_refuses_unstable_values(value: Any, where: str) -> None:
    with pytest.raises(TypeError) as info:
        digest(value)
    assert str(info.value).startswith(f"cannot fingerprint {where}")


def test_path_refusal_has_hint() -> None:
    with pytest.raises(TypeError, match="hash_path"):
        digest({"p": Path("x")})


def test_step_fingerprint_reacts_to_each_part() -> None:
    base: dict[str, Any] = {
        "fn": "r:m.f",
        "code_tree": "t",
        "env_hash": "e",
        "params": {"lr": 0.1},
        "inputs": {"x": "file:0"},
    }
    seen = {step_fingerprint(**base)}
    for key, other in [
        ("fn", "r:m.g"),
        ("code_tree", "u"),
        ("env_hash", "f"),
        ("params", {"lr": 0.01}),
        ("inputs", {"x": "file:1"}),
    ]:
        seen.add(step_fingerprint(**{**base, key: other}))
    assert len(seen) == 6


def test_hash_path_tree_properties(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "f").write_text("1")
    first = hash_path(tree)
    (tree / "f").chmod(0o755)
    assert hash_path(tree) != first  # exec bit counts
    (tree / "f").chmod(0o644)
    assert hash_path(tree) == first
    (tree / "d").mkdir()
    assert hash_path(tree) != first  # empty folders count
    (tree / "d").rmdir()
    (tree / "f").rename(tree / "g")
    assert hash_path(tree) != first  # names count


def test_hash_path_follows_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "f").write_text("data")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "f").symlink_to(real / "f")
    assert hash_path(linked) == hash_path(real)
    (linked / "loop").symlink_to(linked)
    with pytest.raises(ValueError, match="cycle"):
        hash_path(linked)
    (linked / "loop").unlink()
    (linked / "broken").symlink_to(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="broken"):
        hash_path(linked)


def test_hash_cache_reuses_and_notices_changes(tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"one")
    old = 1_600_000_000_000_000_000
    os.utime(data, ns=(old, old))
    cache = tmp_path / "state" / "hashes.json"
    first = hash_path(data, cache_file=cache)
    stored = json.loads(cache.read_text())["files"]
    assert [entry[3] for entry in stored.values()] == [first]
    # Poison the cache: a hit must come from it, not from re-reading the file.
    key = next(iter(stored))
    stored[key][3] = "cached-value"
    cache.write_text(json.dumps({"version": 1, "files": stored}))
    assert hash_path(data, cache_file=cache) == "cached-value"
    data.write_bytes(b"two")  # new size and mtime: the cache entry no longer matches
    assert hash_path(data, cache_file=cache) == hash_path(data) != first


def test_hash_cache_skips_racy_files(tmp_path: Path) -> None:
    data = tmp_path / "fresh.txt"
    data.write_text("just written")
    cache = tmp_path / "hashes.json"
    hash_path(data, cache_file=cache)
    assert not cache.exists()  # modified within the racy window: not remembered


def test_hash_path_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_path(tmp_path / "nope")
