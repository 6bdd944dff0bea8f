"""``uses:``: repos installed into other repos' environments, and fingerprints that see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.e2e._uses_repos import make_uses_workspace
from tests.e2e.workspaces import commit, executions

from mlrecipes.core import Workspace
from mlrecipes.core.lock import lock_path_for, read_lock

pytestmark = pytest.mark.slow


def _children(uri: str, parent: str) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("e2e").experiment_id],  # type: ignore[union-attr]
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    return {r.data.tags["mlrecipes.step"]: r for r in runs}


def _statuses(ws: Workspace) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {s.step: (s.status, s.reasons) for s in ws.plan().variants[0].steps}


def test_used_repos_are_installed_and_their_commits_rerun_exactly_their_users(
    tmp_path: Path,
) -> None:
    manifest = make_uses_workspace(tmp_path)
    ws = Workspace.load(manifest)
    first = ws.run()
    assert first.results and {r.step: r.metrics for r in first.results.values()} == {
        "combo": {"value": 2.0, "six": 1.16},  # lib's own dependency came with it
        "solo": {"factor": 2.0},
    }
    lock = read_lock(lock_path_for(manifest))
    assert lock is not None and lock.repos["app"].uses == ("lib", "plain")

    # A new commit in the packaged library: only the step whose env has it reruns.
    lib_commit = commit(tmp_path / "upstream" / "lib", {"gradlib/__init__.py": "VALUE = 10\n"})
    ws.sync(update=["lib"])
    status = _statuses(ws)
    assert status["combo"] == ("run", ("environment changed",))
    assert status["solo"][0] == "cached"
    second = ws.run()
    assert executions(manifest) == ["combo", "solo", "combo"]
    assert second.results and [r.metrics["value"] for r in second.results.values()] == [20.0]

    # Its child run names the commit of every repo whose code the step could import.
    child = _children(second.tracking_uri, second.run_ids[0])["combo"]
    assert child.data.tags["mlrecipes.repo.lib.commit"] == lib_commit
    assert "mlrecipes.repo.plain.tree" in child.data.tags
    assert child.data.tags["mlrecipes.repo.app.dirty"] == "false"

    # A new commit in the unpackaged one (on sys.path through a .pth): both its users rerun.
    commit(tmp_path / "upstream" / "plain", {"plainlib.py": PLAIN_V2})
    ws.sync(update=["plain"])
    assert {s: v[0] for s, v in _statuses(ws).items()} == {"combo": "run", "solo": "run"}
    third = ws.run()
    assert third.results and {r.step: r.metrics for r in third.results.values()} == {
        "combo": {"value": 30.0, "six": 1.16},
        "solo": {"factor": 3.0},
    }
    # Nothing moved: nothing reruns.
    assert ws.run().up_to_date

    # The parent run holds every environment's package list, with sources and trees.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(third.tracking_uri)
    local = client.download_artifacts(third.run_ids[0], "mlrecipes/packages", str(tmp_path))
    packages = json.loads((Path(local) / "packages.json").read_text())
    app = {p["name"]: p for p in packages["app"]["packages"]}
    assert app["gradlib"]["repo"] == "lib" and app["gradlib"]["editable"] is True
    assert app["six"]["version"] == "1.16.0" and app["six"]["source"] == "index"
    assert any(p.get("repo") == "plain" for p in packages["app"]["packages"])


PLAIN_V2 = """
from pathlib import Path

FACTOR = 3


def solo(out: Path, counter: str = "") -> dict:
    with open(counter, "a") as fh:
        fh.write("solo\\n")
    out.write_text(str(FACTOR))
    return {"factor": FACTOR}
"""
