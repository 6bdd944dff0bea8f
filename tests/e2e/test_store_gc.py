"""``store gc`` keeps what the last runs and the declared outputs need, frees the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.workspaces import executions, make_workspace
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import RunOptions, Workspace
from mlrecipes.core.envs._layout import MARKER as ENV_MARKER

pytestmark = pytest.mark.slow


def _entries(ws: Workspace) -> set[str]:
    store = ws.paths.store
    return {
        f"{e.parent.name}/{e.name[:8]}"
        for e in store.glob("*/*")
        if (e / ".mlrecipes-complete.json").is_file()
    }


def _short(name: str) -> str:
    step, fingerprint = name.split("/")
    return f"{step}/{fingerprint[:8]}"


def _fp(ws: Workspace, overrides: tuple[str, ...], step: str) -> str:
    plan = ws.plan(overrides=overrides)
    return next(s.fingerprint for s in plan.variants[0].steps if s.step == step)[:8]


def test_gc_keeps_what_the_last_runs_and_links_need(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    variants = [(), ("fit.lr=0.25",), ("fit.lr=0.1",)]
    for overrides in variants:
        ws.run(options=RunOptions(overrides=overrides))
    fits = [_fp(ws, o, "fit") for o in variants]
    scores = [_fp(ws, o, "score") for o in variants]
    stray = ws.paths.envs / "0123456789abcdef01234567"
    stray.mkdir()
    (stray / ENV_MARKER).write_text(json.dumps({"format": 1}))
    (stray / "blob").write_bytes(b"x" * 5000)
    before = _entries(ws)

    dry = ws.gc(keep_last=1, dry_run=True)
    assert {_short(i.name) for i in dry.removed if i.kind == "entry"} == {
        f"fit/{fits[0]}",
        f"score/{scores[0]}",
        f"fit/{fits[1]}",
        f"score/{scores[1]}",
    }
    assert [i.name for i in dry.removed if i.kind == "environment"] == [stray.name]
    assert dry.freed >= 5000
    assert _entries(ws) == before and stray.is_dir()

    result = CliRunner().invoke(
        app, ["store", "gc", "-f", str(manifest), "--keep-last", "2", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert f"would remove entry fit/{fits[0]}" in result.output
    assert f"fit/{fits[1]}" not in result.output
    assert "would free" in result.output

    done = ws.gc(keep_last=2)
    assert _entries(ws) == before - {f"fit/{fits[0]}", f"score/{scores[0]}"}
    assert not stray.exists()
    assert done.freed == sum(i.size for i in done.removed) > 0
    # What the kept runs need is still there: rerunning them executes nothing.
    count = len(executions(manifest))
    ws.run(options=RunOptions(overrides=("fit.lr=0.25",)))
    assert len(executions(manifest)) == count


def test_gc_keeps_linked_entries_even_with_keep_last_zero(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    ws = Workspace.load(manifest)
    ws.run()
    ws.gc(keep_last=0)
    # make's table is a store-only output: nothing links to it; the others are linked.
    assert {e.split("/")[0] for e in _entries(ws)} == {"side", "fit", "score"}
    assert (manifest.parent / "outputs" / "model.json").read_text()
