"""Benchmark of shell completion: how long a Tab after ``mlrecipes run`` takes to answer.

Run with ``uv run python benchmarks/bench_completion.py [--steps 200] [--repeat 7]``.
Writes a manifest of N steps in a temp folder (nothing is synced or run) and
times the completion request bash makes, against ``mlrecipes --version`` (the
CLI's bare start-up), as the median of several calls. Needs no network.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 0.5  # "well under a second"


def write_manifest(folder: Path, steps: int) -> None:
    lines = ["version: 1", "name: bench", "params: {seed: 1}", "repos:"]
    lines.append("  a: {url: ../a, rev: main}")
    lines.append("steps:")
    for i in range(steps):
        lines.append(f"  step{i:03d}: {{fn: 'a:m.f', params: {{lr: 0.1, seed: !param seed}}}}")
    (folder / "workspace.yaml").write_text("\n".join(lines) + "\n")


def timed(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> tuple[str, str]:
    """Median wall time and median CPU time (user + sys: steady on a busy machine), output."""
    walls, cpus, out = [], [], ""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = done.stdout
    return f"{statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} s CPU", out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    script = str(Path(sys.executable).parent / "mlrecipes")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_manifest(folder, args.steps)
        base, _ = timed([script, "--version"], folder, dict(os.environ), args.repeat)
        env = {
            **os.environ,
            "_MLRECIPES_COMPLETE": "complete_bash",
            "COMP_WORDS": "mlrecipes run -S step0",
            "COMP_CWORD": "3",
        }
        keys, out = timed([script], folder, env, args.repeat)
        env.update(COMP_WORDS="mlrecipes run ", COMP_CWORD="2")
        names, out_names = timed([script], folder, env, args.repeat)
    assert len(out_names.split()) == args.steps, out_names[:200]
    assert len(out.split()) == 2 * min(args.steps, 100), out[:200]  # lr and seed each
    print(f"{args.steps} steps, median of {args.repeat}:")
    print(f"  mlrecipes --version          {base}")
    print(f"  run <Tab> (step names)       {names}")
    print(f"  run -S step0<Tab> (-S keys)  {keys}")
    print(f"  goal: under {GOAL_S} s (on an idle machine, wall time is about CPU time)")


if __name__ == "__main__":
    main()
