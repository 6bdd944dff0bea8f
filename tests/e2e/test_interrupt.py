"""Ctrl-C and SIGTERM in the middle of a run: runs KILLED, exit 130, nothing half published."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from tests.helpers.waiting import wait_for
from tests.helpers.workspaces import CLI, executions, make_workspace

from mlrecipes.core import Workspace

pytestmark = pytest.mark.slow


def test_ctrl_c_publishes_nothing_and_rerun_completes(tmp_path: Path) -> None:
    """SIGINT to the real CLI process (SIGTERM is covered by the scheduler's tests)."""
    manifest = make_workspace(tmp_path)
    Workspace.load(manifest).sync()
    proc = subprocess.Popen(
        [*CLI, "run", "-f", str(manifest), "-S", "+fit.sleep=60"],
        cwd=manifest.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for(lambda: "fit" in executions(manifest))
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    ws = Workspace.load(manifest)
    fit_dir = ws.paths.store / "fit"
    entries = [p for p in fit_dir.iterdir() if not p.name.startswith(".") and p.is_dir()]
    assert entries == []
    assert not list(fit_dir.glob(".tmp-*"))

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{ws.paths.mlflow_db}")
    exp = client.get_experiment_by_name("e2e")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    statuses = {r.data.tags.get("mlrecipes.step", "parent"): r.info.status for r in runs}
    assert statuses["parent"] == "KILLED"
    assert statuses["fit"] == "KILLED"
    assert "RUNNING" not in statuses.values()

    Workspace.load(manifest).run()
    assert executions(manifest).count("fit") == 2
    assert executions(manifest).count("make") == 1  # finished steps were kept
