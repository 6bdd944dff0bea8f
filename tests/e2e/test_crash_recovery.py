"""`kill -9` of the CLI mid-step: the step dies with it, the next run cleans up and reruns.

Issue 16 item 4 (the store and process side; runs left RUNNING are the tracker's).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.processes import live_pids
from tests.helpers.waiting import wait_for
from tests.helpers.workspaces import CLI, cli, executions, make_workspace

from mlrecipes.core import Workspace

pytestmark = pytest.mark.slow


def _step_pids(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``marker``."""
    return live_pids(lambda cmdline: marker.encode() in cmdline)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_kill_9_takes_the_step_down_and_the_next_run_recovers(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    Workspace.load(manifest).sync()
    # The step would sleep a minute: it must be gone well before that.
    proc = subprocess.Popen(
        [*CLI, "run", "-f", str(manifest), "-S", "+fit.sleep=60"],
        cwd=manifest.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fit_logs = str(manifest.parent / ".mlrecipes" / "store" / "fit" / ".logs")
    wait_for(lambda: "fit" in executions(manifest) and _step_pids(fit_logs))
    step_pids = _step_pids(fit_logs)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    wait_for(lambda: not _step_pids(fit_logs), timeout=20)  # no orphan keeps running
    fit_dir = manifest.parent / ".mlrecipes" / "store" / "fit"
    left = sorted(p.name for p in fit_dir.glob(".tmp-*"))
    assert left, "the killed step's temp entry should be there before the next run"
    assert step_pids and not set(step_pids) & set(_step_pids(fit_logs))

    again = cli("run", "-f", str(manifest), cwd=manifest.parent)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not list(fit_dir.glob(".tmp-*")), "stale temp entries and locks are removed"
    assert executions(manifest).count("fit") == 2  # the step ran again, to completion
    entries = [p for p in fit_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / ".mlrecipes-complete.json").is_file()


SLEEPER = {
    "k.py": """
import subprocess
import time
from pathlib import Path


def spawn(pidfile: str, seconds: str) -> dict:
    child = subprocess.Popen(["sleep", seconds])  # stays in the step's process group
    Path(pidfile).write_text(str(child.pid))
    time.sleep(600)
    return {}


def quick() -> dict:
    return {"ok": 1.0}
"""
}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG and /proc are Linux-only")
def test_the_next_command_ends_what_a_killed_step_left_in_its_group(
    tmp_path: Path, blank_mlflow_db: Path
) -> None:
    """Issue 25 item 13: a step's child (its group) survived kill -9 of `run`."""
    from tests.helpers.mlflow_db import seed_mlflow_db
    from tests.helpers.workspaces import make_repo, write_manifest

    make_repo(tmp_path / "up" / "k", SLEEPER)
    pidfile = tmp_path / "child.pid"
    seconds = "1234.5"  # a value no other sleep on the machine has
    manifest = write_manifest(
        tmp_path / "ws",
        f"""
        version: 1
        name: orphans
        repos: {{k: {{url: ../up/k, rev: main}}}}
        steps:
          spawn: {{fn: "k:k.spawn", params: {{pidfile: "{pidfile}", seconds: "{seconds}"}}}}
          quick: {{fn: "k:k.quick"}}
        """,
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)  # no migration cut short by the kill
    proc = subprocess.Popen(
        [*CLI, "run", "spawn", "-f", str(manifest)],
        cwd=manifest.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the test never signals its own
    )
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
        child = int(pidfile.read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        spawn_logs = str(manifest.parent / ".mlrecipes" / "store" / "spawn" / ".logs")
        wait_for(lambda: not _step_pids(spawn_logs), timeout=20)  # the step itself died
        assert _alive(child), "the step's child outlives the killed run (the defect's setup)"

        again = cli("run", "quick", "-f", str(manifest), cwd=manifest.parent)
        assert again.returncode == 0, again.stdout + again.stderr
        wait_for(lambda: not _alive(child), timeout=20)
        logs = manifest.parent / ".mlrecipes" / "store" / "spawn" / ".logs"
        assert not list(logs.glob("*.group.json"))  # the record goes with the group
    finally:
        if pidfile.exists() and _alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
