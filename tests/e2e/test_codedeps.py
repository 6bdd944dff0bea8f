"""Code dependencies (issue #21): a commit reruns the steps whose files it touched.

Real git repos, real uv environments, real step processes: each commit below is
a scenario of the issue's "Done when", in the order a user would meet them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.codedeps_repos import make_codedeps_workspace
from tests.helpers.workspaces import cli, commit, executions

from mlrecipes.core import Workspace
from mlrecipes.core.store.local import MARKER
from mlrecipes.core.tracking.base import TAG_CODE_REASON, TAG_CODE_RECORD

pytestmark = pytest.mark.slow

PINNED = (
    "  pinned:\n"
    "    fn: feats:pkg.hello.run\n"
    "    params: {counter: !param counter, name: pinned}\n"
    "    outs: {out: pinned.txt}\n"
    "    cache: {code: tree}\n"
)
KEPT = "no file it read changed"


def _changed(reasons: tuple[str, ...], *files: str) -> bool:
    """``code changed: feats@1a2b3c4 -> feats@5d6e7f8: <files>``, the only reason."""
    (reason,) = reasons
    return reason.startswith("code changed: feats@") and reason.endswith(": " + ", ".join(files))


def _plan(ws: Workspace) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {s.step: (s.status, s.reasons) for s in ws.plan().variants[0].steps}


def _ran(manifest: Path, before: int) -> list[str]:
    return sorted(executions(manifest)[before:])


def _children(uri: str, parent: str) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("e2e")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    return {r.data.tags["mlrecipes.step"]: r for r in runs}


def _edit_record(manifest: Path, step: str, fingerprint: str, code: Any) -> None:
    marker = manifest.parent / ".mlrecipes" / "store" / step / fingerprint / MARKER
    data = json.loads(marker.read_text())
    data["code"] = code
    marker.write_text(json.dumps(data))


def test_a_commit_reruns_only_the_steps_whose_files_it_touched(tmp_path: Path) -> None:
    manifest = make_codedeps_workspace(tmp_path, extra=PINNED)
    feats, lib = tmp_path / "upstream" / "feats", tmp_path / "upstream" / "lib"
    ws = Workspace.load(manifest)
    ws.run()
    assert _ran(manifest, 0) == ["hello", "pinned", "shell", "train", "uselib"]

    # Only another step's module changed: train and uselib stay cached and say why;
    # shell started a process and pinned opted out: both fall back to the tree rule.
    commit(feats, {"pkg/hello.py": (feats / "pkg/hello.py").read_text() + "# typo fixed\n"})
    ws.sync(update=["feats"])
    plan = _plan(ws)
    assert plan["hello"][0] == "run" and _changed(plan["hello"][1], "feats/pkg/hello.py")
    assert plan["train"][0] == "cached" and KEPT in plan["train"][1][0]
    assert plan["uselib"][0] == "cached" and KEPT in plan["uselib"][1][0]
    assert plan["shell"][0] == "run"
    assert plan["shell"][1][0].endswith(
        "(tree rule: the step started a process (subprocess.Popen))"
    )
    assert plan["pinned"][0] == "run" and plan["pinned"][1][0].endswith("(cache.code: tree)")
    done = len(executions(manifest))
    result = ws.run()
    assert _ran(manifest, done) == ["hello", "pinned", "shell"]
    children = _children(result.tracking_uri, result.run_ids[0])
    assert _changed((children["hello"].data.tags[TAG_CODE_REASON],), "feats/pkg/hello.py")
    assert children["hello"].data.tags[TAG_CODE_RECORD].endswith(" files")
    assert children["shell"].data.tags[TAG_CODE_RECORD].startswith("tree rule: the step started")
    from mlflow.tracking import MlflowClient

    artifacts = MlflowClient(result.tracking_uri).list_artifacts(
        children["hello"].info.run_id, "mlrecipes"
    )
    assert "mlrecipes/code.json" in [a.path for a in artifacts]

    # A helper imported two levels down (train -> pkg.util -> pkg.deep.core).
    commit(feats, {"pkg/deep/core.py": "BASE = 2\n"})
    ws.sync(update=["feats"])
    dry = cli("run", "--dry-run", cwd=manifest.parent)
    assert dry.returncode == 0, dry.stderr
    assert ": feats/pkg/deep/core.py" in dry.stdout
    assert KEPT in dry.stdout  # hello and uselib: kept, and the plan says why
    plan = _plan(ws)
    assert plan["train"][0] == "run" and _changed(plan["train"][1], "feats/pkg/deep/core.py")
    assert {plan[s][0] for s in ("hello", "uselib")} == {"cached"}
    done = len(executions(manifest))
    result = ws.run()
    assert "train" in _ran(manifest, done) and "hello" not in _ran(manifest, done)
    assert result.results is not None
    metrics = {r.step: dict(r.metrics) for r in result.results.values()}
    assert metrics["train"]["value"] == 14.0  # 2 * 2 + lib's 10: the new helper ran

    # A data file the step opens next to its module's __file__.
    commit(feats, {"pkg/table.txt": "1 2 3 4\n"})
    ws.sync(update=["feats"])
    plan = _plan(ws)
    assert plan["train"][0] == "run" and _changed(plan["train"][1], "feats/pkg/table.txt")
    ws.run()

    # A new module at the repo root shadows lib's `libtools` (the root comes first).
    commit(feats, {"libtools.py": "BONUS = 100\n"})
    ws.sync(update=["feats"])
    plan = _plan(ws)
    shadow = "feats/libtools.py (new: could shadow import libtools)"
    assert plan["train"][0] == "run" and _changed(plan["train"][1], shadow)
    assert plan["uselib"][0] == "run" and _changed(plan["uselib"][1], shadow)
    assert plan["hello"][0] == "cached"
    result = ws.run()
    assert result.results is not None
    metrics = {r.step: dict(r.metrics) for r in result.results.values()}
    assert metrics["uselib"] == {"bonus": 100.0}  # the shadow was real

    # A commit to the used repo that touches nothing the steps read.
    commit(lib, {"other.py": "UNUSED = 2\n"})
    ws.sync(update=["lib"])
    plan = _plan(ws)
    assert {plan[s][0] for s in ("hello", "train", "uselib")} == {"cached"}
    assert plan["shell"][0] == "run"  # its record cannot vouch: the tree rule
    ws.run()

    # A damaged record and a missing one (an entry made before records existed).
    plan_now = {s.step: s for s in ws.plan().variants[0].steps}
    _edit_record(manifest, "hello", plan_now["hello"].fingerprint, {"version": 1, "files": 7})
    _edit_record(manifest, "train", plan_now["train"].fingerprint, None)
    commit(feats, {"README.md": "unrelated\n"})
    ws.sync(update=["feats"])
    plan = _plan(ws)
    assert plan["hello"][0] == "run"
    assert plan["hello"][1][0].endswith("(tree rule: the record of what it read is damaged)")
    assert plan["train"][0] == "run"
    assert plan["train"][1][0].endswith("(tree rule: its entry has no record of what it read)")
    assert plan["uselib"][0] == "cached"
    done = len(executions(manifest))
    ws.run()
    assert {"hello", "train"} <= set(_ran(manifest, done))
