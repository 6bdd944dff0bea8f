"""The Ray test clusters stop their own processes and nothing else (issue #25, item 9).

Teardown used to run ``ray stop --force``, which ends every Ray process on the
machine: a user's cluster, another test run's. Here a stand-in "node" (a
process with a child that detached into its own session, as Ray's daemons do)
and a bystander run side by side; stopping the cluster ends the node and its
child, never the bystander.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ._cluster import MARKER, Cluster, _running

NODE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def _wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.1)
    return False


def test_stop_ends_the_clusters_processes_and_spares_others(tmp_path: Path) -> None:
    temp_dir = tmp_path / "cluster"
    temp_dir.mkdir()
    env = {MARKER: str(temp_dir), "PATH": "/usr/bin:/bin"}
    node = subprocess.Popen(
        [sys.executable, "-c", NODE], env=env, stdout=subprocess.PIPE, text=True
    )
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        assert node.stdout is not None
        child = int(node.stdout.readline())
        Cluster("127.0.0.2:1", temp_dir, env, procs=[node]).stop()
        assert node.poll() is not None
        assert _wait_gone(child), "a detached process of the cluster outlived stop()"
        assert bystander.poll() is None, "stop() ended a process that is not the cluster's"
        assert not temp_dir.exists()
    finally:
        bystander.kill()
        bystander.wait()
        node.kill()
        node.wait()
        if node.stdout is not None:
            node.stdout.close()
