"""The team store (issue 13): all-hits from a shared MLflow server vs recomputing.

    env -u PYTHONDONTWRITEBYTECODE uv run python benchmarks/bench_team_store.py \
        [--steps 20] [--size 1000000] [--work 0.5] [--jobs 2] [--repeat 1]

A real ``mlflow server --serve-artifacts`` on 127.0.0.1 and a linear pipeline of
``--steps`` steps in one stdlib-only repo; each step burns ``--work`` seconds
of CPU (the "computation") and writes ``--size`` bytes. Every "machine" is a
fresh workspace folder (its own ``.mlrecipes`` store, synced before timing:
the one-time checkout and environment build are excluded) running the same
manifest against the same server, in process (``Workspace.run``):

(a) first machine without sharing (``share=False``): every step executes;
(b) first machine with sharing: every step executes and its outputs are
    uploaded in the background; the run waits for the uploads at its end.
    The upload cost is (b) / (a) - 1 (target: <= 10 %);
(c) second machine with sharing, after (b): every step comes from the team
    store (looked up, downloaded, verified);
(d) second machine recomputing (``share=False``): every step executes.
    The speed-up is (d) / (c).

(a) and (d) neither fetch nor upload; each round logs to an experiment of its
own, so (c) finds exactly what (b) of the same round uploaded. The MLflow
import and the server's first requests are paid by a warm-up run first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers.mlflow_server

from tests.helpers.mlflow_server import start_mlflow_server, stop_mlflow_server

from mlrecipes.core import RunOptions, Workspace
from mlrecipes.core.events import Event, PlanReady, StepFinished, ignore

STEP_MODULE = '''\
import hashlib
import random
import time
from pathlib import Path
from typing import Optional


def step(*, x: int, size: int, work: float, out: Path, inp: Optional[Path] = None) -> dict:
    """Burn `work` s of CPU, then write `size` bytes that depend on x and the input."""
    seed = x + (len(inp.read_bytes()) if inp is not None else 0)
    end = time.process_time() + work
    digest = b""
    while time.process_time() < end:
        digest = hashlib.sha256(digest).digest()
    out.write_bytes(random.Random(seed).randbytes(size))
    return {"seed": float(seed)}
'''


def sh(*args: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    repo = root / "upstream" / "bench"
    repo.mkdir(parents=True)
    (repo / "benchstep.py").write_text(STEP_MODULE)
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "step", cwd=repo)
    return repo


def manifest_text(uri: str, repo: Path, steps: int, size: int, work: float, name: str) -> str:
    lines = [
        "version: 1",
        f"name: {name}",  # the experiment: one per round, so no round finds another's uploads
        f"mlflow: {{tracking_uri: '{uri}'}}",
        "repos:",
        f"  bench: {{url: '{repo}', rev: main}}",
        "steps:",
    ]
    for i in range(steps):
        inp = f", deps: {{inp: !out s{i - 1:02d}.out}}" if i else ""
        lines.append(
            f"  s{i:02d}: {{fn: bench:benchstep.step, params: {{x: {i}, size: {size}, "
            f"work: {work}}}, outs: {{out: out.bin}}{inp}}}"
        )
    return "\n".join(lines) + "\n"


def machine(root: Path, name: str, text: str) -> Workspace:
    ws_dir = root / name / "ws"
    ws_dir.mkdir(parents=True)
    (ws_dir / "workspace.yaml").write_text(text)
    ws = Workspace.load(ws_dir / "workspace.yaml")
    ws.sync()
    return ws


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def one_round(root: Path, uri: str, repo: Path, args: argparse.Namespace) -> dict[str, float]:
    text = manifest_text(uri, repo, args.steps, args.size, args.work, f"teambench-{root.name}")
    ws = {n: machine(root, n, text) for n in ("a", "b", "c", "d")}
    marks: dict[str, float] = {}

    def mark(event: Event) -> None:
        # (c)'s phases: planned + looked up, then fetched (the first cached step).
        if isinstance(event, PlanReady):
            marks.setdefault("planned", time.perf_counter())
        elif isinstance(event, StepFinished) and event.status == "cached":
            marks.setdefault("fetched", time.perf_counter())

    def run(name: str, share: bool) -> Callable[[], object]:
        handler = mark if name == "c" else ignore
        options = RunOptions(jobs=args.jobs, share=share)
        return lambda: ws[name].run(options=options, on_event=handler)

    times = {"a": timed(run("a", False)), "b": timed(run("b", True))}
    start = time.perf_counter()
    times["c"] = timed(run("c", True))
    times["c_lookup"] = marks["planned"] - start
    times["c_fetch"] = marks["fetched"] - marks["planned"]
    times["d"] = timed(run("d", False))
    executed_c = len(list((root / "c" / "ws" / ".mlrecipes" / "store").glob("*/.logs/*.log")))
    if executed_c:
        raise SystemExit(f"machine c executed {executed_c} steps: the team store missed")
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--work", type=float, default=0.5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="teambench-") as tmp:
        root = Path(tmp)
        os.environ["MLRECIPES_CACHE_DIR"] = str(root / "cache")
        server = start_mlflow_server(root / "server")
        try:
            repo = make_repo(root)
            # A warm-up: imports MLflow, creates the experiment (one-time costs).
            warm = machine(root / "warm", "w", manifest_text(server.url, repo, 1, 10, 0.0, "warm"))
            warm.run(options=RunOptions(share=False))
            rounds = [
                one_round(root / f"round{i}", server.url, repo, args) for i in range(args.repeat)
            ]
        finally:
            stop_mlflow_server(server)
    report(rounds, args)


def report(rounds: list[dict[str, float]], args: argparse.Namespace) -> None:
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    a, b, c, d = med["a"], med["b"], med["c"], med["d"]
    print(
        f"{args.steps} steps, {args.size / 1e6:.1f} MB out each, {args.work} s CPU each, "
        f"-j {args.jobs}, {args.repeat} round(s), medians; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"(a) first machine, no sharing    {a:7.2f} s")
    print(f"(b) first machine, sharing       {b:7.2f} s   upload cost {b / a - 1:+.1%}")
    print(
        f"(c) second machine, team store   {c:7.2f} s   (sync+plan+lookup "
        f"{med['c_lookup']:.2f} s, fetch {med['c_fetch']:.2f} s, then MLflow logging)"
    )
    print(f"(d) second machine, recompute    {d:7.2f} s   team store {d / c:.1f}x faster")


if __name__ == "__main__":
    main()
