"""Starting and stopping a Ray cluster of the tests' own, and only that one.

Every node is a ``ray start --block`` child of the test process, with
``--temp-dir`` in a folder of its own and ``MLRECIPES_TEST_RAY=<that folder>``
in its environment. :meth:`Cluster.stop` collects the processes of this
cluster (descendants of those children, and processes whose environment still
holds the marker: Ray's agents rename themselves over their environment, so the
tree is what finds them), then ends exactly those (SIGTERM, then SIGKILL): never
a user's cluster or another test run's, as ``ray stop --force`` would. A
worker node may start inside a private mount namespace with tmpfs over folders
it must not see (``hidden``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


def ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else shutil.which("ray") or "ray"


def free_port(host: str = HEAD_IP) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    address: str
    temp_dir: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)
    client_env: dict[str, str] = field(default_factory=dict)  # what a driver adds to env

    def alive_nodes(self) -> int:
        """How many nodes the GCS counts alive (asked from a subprocess with ``env``)."""
        code = (
            "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, "
            "logging_level='ERROR'); print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, self.address],
                env={**self.env, **self.client_env},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:  # no GCS answering yet (or any more)
            return 0
        lines = done.stdout.strip().splitlines()
        return int(lines[-1]) if done.returncode == 0 and lines else 0

    def wait_for_nodes(self, count: int, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"a Ray node exited with code {proc.returncode}; see {self.temp_dir}"
                    )
            if self.alive_nodes() >= count:
                return
            time.sleep(1.0)
        raise TimeoutError(f"the Ray cluster did not reach {count} nodes")

    def stop(self) -> None:
        """End every process of this cluster (and only those), then remove its folder."""
        roots = [proc.pid for proc in self.procs if proc.poll() is None]
        pids = set(descendants(roots)) | set(_pids_with(str(self.temp_dir)))
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        kill_pids(pids)
        kill_by_marker(str(self.temp_dir))
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


MARKER = "MLRECIPES_TEST_RAY"


def _pids_with(marker: str) -> list[int]:
    """Processes whose environment holds ``MLRECIPES_TEST_RAY=<marker>``."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in environ:
            found.append(int(entry.name))
    return found


def descendants(roots: Sequence[int]) -> list[int]:
    """``roots`` and every process below them, from ``/proc`` (parents first)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    queue = list(roots)
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def kill_by_marker(marker: str, grace: float = 10.0) -> None:
    """SIGTERM every process of the cluster ``marker``; SIGKILL what remains."""
    kill_pids(set(_pids_with(marker)), grace)


def kill_pids(pids: set[int], grace: float = 10.0) -> None:
    """SIGTERM ``pids`` (collected before any dies: no reparenting surprise); SIGKILL the rest."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        pids = {pid for pid in pids if _running(pid)}
        for pid in pids:
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                continue
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = {pid for pid in pids if _running(pid)}
            time.sleep(0.1)
        if not pids:
            return


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


_START = ("--disable-usage-stats",)


def start_cluster(
    *,
    env: Mapping[str, str],
    head_cpus: int = 1,
    worker_cpus: int = 1,
    worker_env: Mapping[str, str] | None = None,
    worker_resources: Mapping[str, float] | None = None,
    client_env: Mapping[str, str] | None = None,
    hidden: Sequence[Path] = (),
    wait_for_worker: bool = False,
) -> Cluster:
    """A head (waited for) and a worker node (started in the background).

    ``env`` is the environment of every node; ``worker_env`` adds to the
    worker's, ``worker_resources`` are its custom resources; ``client_env`` is
    what a driver needs on top of ``env`` (e.g. the auth mode). With
    ``hidden``, the worker's raylet starts in a private mount namespace with a
    tmpfs over each of those folders (needs root).
    """
    temp_dir = Path(tempfile.mkdtemp(prefix="mlr-ray-", dir="/tmp"))  # short: socket paths
    port = free_port()
    address = f"{HEAD_IP}:{port}"
    cluster = Cluster(address, temp_dir, {**env, MARKER: str(temp_dir)})
    cluster.client_env.update(client_env or {})
    head = [ray_cli(), "start", "--head", "--port", str(port), "--node-ip-address", HEAD_IP,
            "--include-dashboard=false", "--num-cpus", str(head_cpus),
            "--temp-dir", str(temp_dir / "h"), "--block", *_START]  # fmt: skip
    try:
        with (temp_dir / "head.log").open("wb") as log:
            cluster.procs.append(
                subprocess.Popen(head, env=cluster.env, stdout=log, stderr=subprocess.STDOUT)
            )
        cluster.wait_for_nodes(1)
        worker = [ray_cli(), "start", "--address", address, "--node-ip-address", WORKER_IP,
                  "--num-cpus", str(worker_cpus), "--temp-dir", str(temp_dir / "w"),
                  "--block", *_START]  # fmt: skip
        if worker_resources:
            worker += ["--resources", json.dumps(dict(worker_resources))]
        if hidden:
            mounts = " && ".join(f"mount -t tmpfs tmpfs '{folder}'" for folder in hidden)
            worker = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                      f'{mounts} && exec "$@"', "sh", *worker]  # fmt: skip
        with (temp_dir / "worker.log").open("wb") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                worker,
                env={**cluster.env, **(worker_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        cluster.procs.append(proc)
        if wait_for_worker:
            cluster.wait_for_nodes(2)
    except BaseException:
        cluster.stop()
        raise
    return cluster
