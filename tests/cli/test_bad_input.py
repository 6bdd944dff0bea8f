"""Bad input is a located user error (exit 1), never an internal error (issue 16, items 14-15)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core.errors import OverrideError
from mlrecipes.core.manifest import apply_overrides, load_manifest

MANIFEST = """\
version: 1
name: t
params: {a: {x: 1}, lr: 0.1}
repos:
  r: {url: ../nowhere, rev: main}
steps:
  s: {fn: "r:m.f", params: {lr: !param lr}}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "workspace.yaml"
    path.write_text(MANIFEST)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_nul_in_the_local_overlay_is_located(manifest: Path) -> None:
    (manifest.parent / "workspace.local.yaml").write_bytes(b"repos:\n  r: {path: x\x00}\n")
    code, output = invoke("validate", "-f", str(manifest))
    assert code == 1, output
    assert re.search(r"workspace\.local\.yaml:2:\d+: invalid YAML: a NUL byte", output), output


def test_a_binary_lock_is_a_user_error_naming_the_file(manifest: Path) -> None:
    (manifest.parent / "workspace.lock").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    code, output = invoke("workspace", "sync", "-f", str(manifest))
    assert code == 1, output
    assert "workspace.lock" in output and "not UTF-8" in output and "delete it" in output


def test_a_sweep_above_1000_variants_needs_yes(manifest: Path) -> None:
    values = ",".join(str(i) for i in range(1001))
    code, output = invoke("run", "--dry-run", "-S", f"lr={values}", "-f", str(manifest))
    assert code == 1, output
    assert "1,001 variants" in output and "--yes" in output
    # with --yes the sweep goes on: a dry run plans it (the repo is never fetched:
    # a dry run changes nothing, it says what a run would check out)
    code, output = invoke("run", "--dry-run", "--yes", "-S", f"lr={values}", "-f", str(manifest))
    assert "--yes" not in output and code == 0, output
    assert "1001 variants" in output and "a run would check out" in output, output


@pytest.mark.parametrize("key", ["+a.1bad", "+a.bad key", "+s.class"])
def test_added_override_keys_are_identifiers(manifest: Path, key: str) -> None:
    with pytest.raises(OverrideError, match="not a Python identifier"):
        apply_overrides(load_manifest(manifest), {key: "1"})


def test_an_added_identifier_is_fine(manifest: Path) -> None:
    changed = apply_overrides(load_manifest(manifest), {"+a.y": "2"})
    assert dict(changed.params["a"]) == {"x": 1, "y": 2}  # type: ignore[arg-type]


TUNE = ("tune", "--objective", "s.loss", "--direction", "min")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--seed", "-5", "--trials", "1"), "--seed -5 is out of range"),
        (("--seed", "99999999999999999999999", "--trials", "1"), "is out of range"),
        (("--trials", "99999999999999999999999"), "more than 100,000"),
        (("--trials", "1", "--study", "x" * 600), "600 characters long"),
        (("--trials", "1", "--study", "a\x1b[2Jb"), "control character"),
        (("--trials", "1", "--storage", "sqlite:///"), "in-memory database"),
        (("--trials", "1", "--storage", "sqlite://"), "in-memory database"),
        (
            ("--trials", "1", "-S", "s.lr=range(0, 1000000000000)", "--sampler", "grid"),
            "the grid has 1,000,000,000,000 points, more than 100,000",
        ),
    ],
)
def test_tune_input_is_a_user_error(manifest: Path, args: tuple[str, ...], said: str) -> None:
    """Issue 25 item 19: each of these was an internal error (exit 3) or ran forever."""
    space = () if "-S" in args else ("-S", "s.lr=interval(0.01, 0.1)")
    code, out = invoke(*TUNE, *space, *args, "-f", str(manifest))
    assert code == 1, out
    assert said in " ".join(out.split())


def test_a_huge_range_is_a_search_space_for_tpe() -> None:
    """Issue 25 item 19: a range is never materialized (range(0, 10**12) was a MemoryError)."""
    from mlrecipes.core.tune.space import parse_space

    space = parse_space(["s.lr=range(0, 1000000000000)"])
    assert space.describe() == {"s.lr": "range(0, 1000000000000)"}


@pytest.mark.parametrize("kind", ["folder", "loop"])
def test_a_manifest_that_is_a_folder_or_a_loop_says_so(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25 item 21: both were reported as a missing workspace.yaml."""
    place = tmp_path / "workspace.yaml"
    if kind == "folder":
        place.mkdir()
    else:
        place.symlink_to("workspace.yaml")
    said = {"folder": "is a folder, not a file", "loop": "is a symbolic link loop"}[kind]
    monkeypatch.chdir(tmp_path)  # found by looking up from here, as `run` does
    code, out = invoke("validate")
    assert code == 1 and said in " ".join(out.split()), out


def test_init_with_a_name_too_long_is_a_user_error(tmp_path: Path) -> None:
    """Issue 25 item 19: `init -f` with a 300-character name was an internal error."""
    code, out = invoke("init", "-f", str(tmp_path / ("x" * 300 + ".yaml")))
    assert code == 1 and "file name too long" in out, out
