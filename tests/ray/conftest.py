"""A real Ray cluster on the loopback for the whole session: a head and a worker node.

Both nodes run on this machine with their own loopback addresses
(127.0.0.2 head, 127.0.0.3 worker; Ray would otherwise advertise the
machine's network address), one CPU each. Starting Ray is slow (tens of
seconds on 2 cores), so the worker node starts in the background while the
first tests use the head; tests that need both wait for it. ``ray stop
--force`` ends both in teardown.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.executors.ray import import_ray

ray: Any = pytest.importorskip("ray", reason="Ray is not installed (the mlrecipes-core[ray] extra)")

pytestmark = pytest.mark.ray

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


@dataclass
class Cluster:
    address: str
    worker: subprocess.Popen[bytes]

    def wait_for_nodes(self, count: int, timeout: float = 90.0) -> None:
        """Block until ``count`` nodes are alive (the worker joins in the background)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for n in ray.nodes() if n["Alive"]) >= count:
                return
            time.sleep(0.5)
        raise TimeoutError(f"the Ray cluster did not reach {count} nodes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HEAD_IP, 0))
        return int(sock.getsockname()[1])


def _ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else shutil.which("ray") or "ray"


_START = ("--num-cpus", "1", "--disable-usage-stats")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    """Start the head (blocking) and a worker node (in the background); stop both at the end."""
    port = _free_port()
    address = f"{HEAD_IP}:{port}"
    # A token left in ~/.ray/auth_token (by any earlier `ray.init()` on this machine)
    # silently turns on token auth for some processes and not others: the test
    # cluster runs without auth, for every process, whatever the machine holds.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "disabled"
    previous_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    head = [_ray_cli(), "start", "--head", "--port", str(port), "--node-ip-address", HEAD_IP,
            "--include-dashboard=false", *_START]  # fmt: skip
    subprocess.run(head, check=True, env=env, capture_output=True, timeout=240)
    worker_cmd = [_ray_cli(), "start", "--address", address, "--node-ip-address", WORKER_IP,
                  *_START]  # fmt: skip
    worker = subprocess.Popen(
        worker_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import_ray()  # as the executor does: no `uv run` runtime env for the workers
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        yield Cluster(address, worker)
    finally:
        ray.shutdown()
        worker.wait(timeout=120)
        subprocess.run([_ray_cli(), "stop", "--force"], env=env, capture_output=True, timeout=120)
        if previous_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_mode
