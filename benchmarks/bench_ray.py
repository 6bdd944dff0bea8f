"""100 trivial steps through run_tasks: the Ray executor against the local one.

    uv run python benchmarks/bench_ray.py [--steps 100] [--address HOST:PORT]

Without ``--address`` it starts a one-node Ray cluster on 127.0.0.2 with as
many CPUs as this machine (``ray start --head``) and stops it at the end
(``ray stop --force``, which stops every Ray process of this user). Both
executors run the same ``mod.trivial(i=...)`` steps with the same
concurrency (the machine's cores); the Ray figure excludes connecting to the
cluster, which happens once per ``mlrecipes run``, and reports it apart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlrecipes.core.executors import Executor, LocalExecutor
from mlrecipes.core.executors.ray import RayExecutor
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.run.scheduler import run_tasks
from mlrecipes.core.store.local import Store

HEAD_IP = "127.0.0.2"  # loopback; Ray would otherwise advertise the machine's address


def _tasks(repo: Path, steps: int, tag: str) -> list[StepTask]:
    return [
        StepTask(
            key=f"{tag}-{i}", step="trivial", fingerprint=f"{tag}-{i}", python=Path(sys.executable),
            cwd=repo, module="mod", func="trivial", params={"i": i}, inputs={}, outputs={},
        )
        for i in range(steps)
    ]  # fmt: skip


def timed(executor: Executor, tasks: list[StepTask], store: Path, jobs: int) -> float:
    start = time.perf_counter()
    results = run_tasks(tasks, executor=executor, store=Store(store), jobs=jobs)
    elapsed = time.perf_counter() - start
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.error]
    return elapsed


@contextmanager
def cluster(address: str | None, cpus: int) -> Iterator[str]:
    if address:
        yield address
        return
    ray = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as sock:
        sock.bind((HEAD_IP, 0))
        port = sock.getsockname()[1]
    start = time.perf_counter()
    subprocess.run(
        [ray, "start", "--head", "--port", str(port), "--node-ip-address", HEAD_IP,
         "--num-cpus", str(cpus), "--disable-usage-stats", "--include-dashboard=false"],
        check=True, capture_output=True,
    )  # fmt: skip
    print(f"ray start --head: {time.perf_counter() - start:.1f} s")
    try:
        yield f"{HEAD_IP}:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="best of N, interleaved")
    parser.add_argument("--address", help="an existing Ray cluster (default: start one)")
    args = parser.parse_args()
    jobs = len(os.sched_getaffinity(0))
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        repo = tmp / "repo"
        repo.mkdir()
        (repo / "mod.py").write_text("def trivial(i: int) -> None:\n    pass\n")
        with cluster(args.address, jobs) as address:
            start = time.perf_counter()
            ray_executor = RayExecutor(address=address)
            print(f"connect to the cluster: {time.perf_counter() - start:.1f} s")
            timed(ray_executor, _tasks(repo, jobs, "warm"), tmp / "warm", jobs)  # start workers
            local_best, ray_best = float("inf"), float("inf")
            for round_ in range(args.rounds):
                local = LocalExecutor(jobs)
                tasks = _tasks(repo, args.steps, f"l{round_}")
                local_best = min(local_best, timed(local, tasks, tmp / f"l{round_}", jobs))
                local.close()
                tasks = _tasks(repo, args.steps, f"r{round_}")
                ray_best = min(ray_best, timed(ray_executor, tasks, tmp / f"r{round_}", jobs))
            ray_executor.close()
        n = args.steps
        print(f"{n} trivial steps, {jobs} at a time, best of {args.rounds}:")
        print(f"  local: {local_best:6.2f} s  ({1000 * local_best / n:5.0f} ms/step)")
        print(f"  ray:   {ray_best:6.2f} s  ({1000 * ray_best / n:5.0f} ms/step)")
        print(f"  ray / local = {ray_best / local_best:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
