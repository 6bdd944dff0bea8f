"""100 trivial steps through run_tasks: the Ray executor against the local one.

    uv run python benchmarks/bench_ray.py [--steps 100] [--address HOST:PORT]
    uv run python benchmarks/bench_ray.py --storage [--steps 10] [--rounds 2]

Without ``--address`` it starts a one-node Ray cluster on 127.0.0.2 with as
many CPUs as this machine (``ray start --head``) and at the end stops that
cluster's processes only (never ``ray stop --force``). Both
executors run the same ``mod.trivial(i=...)`` steps with the same
concurrency (the machine's cores); the Ray figure excludes connecting to the
cluster, which happens once per ``mlrecipes run``, and reports it apart.

``--storage`` measures the per-step overhead of ``executor.storage: store``
against ``shared`` on the same cluster: a workspace of ``--steps`` independent
trivial steps (one small output each) logging to a real ``mlflow server
--serve-artifacts``, run in process with ``Workspace.run``; each round gives
every step a new fingerprint (``-S seed=N``) and runs it once per mode. Both
modes pay the same connection to the cluster and the same MLflow logging;
``store`` adds the step's run made before it starts, the node's frozen sync
(checkout and environment already there after the warm-up), the upload of its
outputs from the node and their download into the driver's store.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* helpers

from tests.helpers.mlflow_server import start_mlflow_server, stop_mlflow_server
from tests.helpers.workspaces import make_repo, write_manifest
from tests.ray._cluster import kill_by_marker

from mlrecipes.core import RunOptions, Workspace
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
    temp_dir = tempfile.mkdtemp(prefix="bench-ray-", dir="/tmp")
    marker = "MLRECIPES_TEST_RAY"
    os.environ[marker] = temp_dir  # every process of the cluster inherits it
    with socket.socket() as sock:
        sock.bind((HEAD_IP, 0))
        port = sock.getsockname()[1]
    start = time.perf_counter()
    subprocess.run(
        [ray, "start", "--head", "--port", str(port), "--node-ip-address", HEAD_IP,
         "--num-cpus", str(cpus), "--disable-usage-stats", "--include-dashboard=false",
         "--temp-dir", temp_dir],
        check=True, capture_output=True,
    )  # fmt: skip
    del os.environ[marker]
    print(f"ray start --head: {time.perf_counter() - start:.1f} s")
    try:
        yield f"{HEAD_IP}:{port}"
    finally:
        kill_by_marker(temp_dir)  # this cluster's processes only
        shutil.rmtree(temp_dir, ignore_errors=True)


STEP = """
from pathlib import Path


def trivial(out: Path, i: int, seed: int = 0) -> dict:
    out.write_text(f"{i} {seed}")
    return {"i": float(i)}
"""


def storage_workspace(root: Path, uri: str, address: str, steps: int) -> Path:
    make_repo(root / "upstream" / "pipe", {"requirements.txt": "\n", "mod.py": STEP})
    lines = [
        "version: 1",
        "name: bench-ray-storage",
        f"mlflow: {{tracking_uri: '{uri}'}}",
        "params: {seed: 0}",
        "repos: {pipe: {url: ../upstream/pipe, rev: main}}",
        f"executor: {{kind: ray, address: '{address}'}}",
        "steps:",
    ]
    lines += [
        f"  s{i}: {{fn: 'pipe:mod.trivial', params: {{i: {i}, seed: !param seed}}, "
        f"outs: {{out: out.txt}}}}"
        for i in range(steps)
    ]
    return write_manifest(root / "ws", "\n".join(lines) + "\n")


def storage_overhead(args: argparse.Namespace, jobs: int) -> None:
    """Per-step cost of `storage: store` over `shared` (see module doc)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-storage-"))
    server = start_mlflow_server(tmp / "server")
    try:
        with cluster(args.address, jobs) as address:
            manifest = storage_workspace(tmp, server.url, address, args.steps)
            ws = Workspace.load(manifest)

            def run(storage: str, seed: int) -> float:
                options = RunOptions(
                    executor="ray", ray_storage=storage, overrides=(f"seed={seed}",)
                )
                start = time.perf_counter()
                result = ws.run((), options=options)
                assert result.status == "FINISHED", result.status
                return time.perf_counter() - start

            run("store", 1000)  # warm-up: MLflow, the node's checkout and environment
            best = {"shared": float("inf"), "store": float("inf")}
            for round_ in range(args.rounds):
                for storage in ("shared", "store"):
                    seed = 2 * round_ + (storage == "store")
                    best[storage] = min(best[storage], run(storage, seed))
        n = args.steps
        print(f"{n} independent trivial steps per run, best of {args.rounds}:")
        for storage, seconds in best.items():
            print(f"  {storage:6}: {seconds:6.2f} s  ({1000 * seconds / n:5.0f} ms/step)")
        extra = (best["store"] - best["shared"]) / n
        print(f"  store - shared = {1000 * extra:.0f} ms/step")
    finally:
        stop_mlflow_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="best of N, interleaved")
    parser.add_argument("--address", help="an existing Ray cluster (default: start one)")
    parser.add_argument(
        "--storage", action="store_true", help="store mode against shared mode (see above)"
    )
    args = parser.parse_args()
    jobs = len(os.sched_getaffinity(0))
    if args.storage:
        storage_overhead(args, jobs)
        return
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
