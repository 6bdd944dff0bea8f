"""A no-op ``run`` answers from its stamp only when nothing it relied on changed.

The stamp's answer prints no ``plan:`` line (nothing is loaded or planned); the
full path always does. Each case changes one input of a stamped workspace and
checks that the next ``run`` takes the full path and does what that change asks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import cli, make_repo, write_files, write_manifest

pytestmark = pytest.mark.slow

MANIFEST = """
version: 1
name: stamp
repos:
  a: {url: ../up/a, rev: main}
paths:
  data: data
  output: out
steps:
  first:
    fn: "a:moda.first"
    params: {n: 1}
    deps: {src: !path data/in.txt}
    outs: {out: o.txt}
  second:
    fn: "a:moda.second"
    deps: {x: !out first.out}
    outs: {out: !path output/result.txt}
"""
CODE = """
from pathlib import Path

def first(src, out, n):
    Path(out).write_text(Path(src).read_text() + str(n))

def second(x, out):
    Path(out).write_text(Path(x).read_text() + "!")
"""


def _run(ws: Path, *args: str) -> tuple[bool, str]:
    """(whether the stamp answered, stdout) of ``mlrecipes run ARGS``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.pop("PYTHONPATH", None)
    done = cli("run", *args, cwd=ws, env=env)
    assert done.returncode == 0, done.stderr
    return "plan:" not in done.stderr, done.stdout


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, blank_mlflow_db: Path) -> Path:
    root = tmp_path_factory.mktemp("stamp")
    make_repo(root / "up" / "a", {"moda.py": CODE})
    write_files(root / "ws", {".gitignore": ".mlrecipes/\n", "data/in.txt": "x"})
    manifest = write_manifest(root / "ws", MANIFEST)
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    return manifest.parent


@pytest.fixture
def stamped(workspace: Path) -> Iterator[Path]:
    """The workspace after a run whose next no-op rerun the stamp answers."""
    hit = False
    for _ in range(3):  # a run that executed (or wrote the lock) stamps on the next one
        hit, _ = _run(workspace)
        if hit:
            break
    assert hit, "a rerun with nothing changed is answered from the stamp"
    yield workspace


def test_a_rerun_with_nothing_changed_hits(stamped: Path) -> None:
    hit, out = _run(stamped)
    assert hit
    assert "up to date: run " in out
    assert (stamped / "out" / "result.txt").read_text() == "x1!"


def _edit_manifest(ws: Path) -> Callable[[], object]:
    text = (ws / "workspace.yaml").read_text()
    (ws / "workspace.yaml").write_text(text.replace("{n: 1}", "{n: 2}"))
    return lambda: (ws / "workspace.yaml").write_text(text)


def _edit_dep(ws: Path) -> Callable[[], object]:
    (ws / "data" / "in.txt").write_text("y")
    return lambda: (ws / "data" / "in.txt").write_text("x")


def _delete_entry(ws: Path) -> Callable[[], object]:
    entries = [p for p in (ws / ".mlrecipes" / "store" / "second").iterdir() if p.is_dir()]
    for entry in entries:
        if not entry.name.startswith("."):
            shutil.rmtree(entry)
    return lambda: None


def _delete_link(ws: Path) -> Callable[[], object]:
    (ws / "out" / "result.txt").unlink()
    return lambda: None


def _touch_lock(ws: Path) -> Callable[[], object]:
    lock = ws / "workspace.lock"
    text = lock.read_text()
    lock.write_text(text + "\n")
    return lambda: lock.write_text(text)


def _dev_overlay(ws: Path) -> Callable[[], object]:
    local = ws / "workspace.local.yaml"
    local.write_text(f"repos:\n  a: {{path: {ws.parent / 'up' / 'a'}}}\n")
    return local.unlink


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (_edit_manifest, "x2!"),
        (_edit_dep, "y1!"),
        (_delete_entry, "x1!"),
        (_delete_link, "x1!"),
        (_touch_lock, "x1!"),
        (_dev_overlay, "x1!"),
    ],
    ids=["manifest", "dep", "store-entry", "output-link", "lock", "dev-overlay"],
)
def test_each_changed_input_misses(
    stamped: Path, change: Callable[[Path], Callable[[], object]], expect: str
) -> None:
    restore = change(stamped)
    try:
        hit, _ = _run(stamped)
        assert not hit
        assert (stamped / "out" / "result.txt").read_text() == expect
        if change is _dev_overlay:  # a working copy changes unseen: never stamped
            assert not _run(stamped)[0]
    finally:
        restore()


def test_a_set_value_misses_and_its_own_rerun_hits(stamped: Path) -> None:
    hit, _ = _run(stamped, "-S", "first.n=3")
    assert not hit
    assert (stamped / "out" / "result.txt").read_text() == "x3!"
    assert _run(stamped, "-S", "first.n=3")[0]  # the run that executed it stamped it
    hit, _ = _run(stamped)  # the plain run: its links now show n=3, so it relinks
    assert not hit
    assert (stamped / "out" / "result.txt").read_text() == "x1!"


def test_an_option_the_fast_path_does_not_know_takes_the_full_path(stamped: Path) -> None:
    assert not _run(stamped, "--fail-fast")[0]
