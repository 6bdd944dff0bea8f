"""A 50-trial ``mlrecipes tune`` of the README example, this tree against an older one.

    git worktree add --detach /tmp/bench20-before 9825874
    (cd /tmp/bench20-before && uv sync --locked --compile-bytecode)
    PYTHONDONTWRITEBYTECODE=1 uv run python benchmarks/bench_tune_example.py \
        --before /tmp/bench20-before [--trials 50] [--rounds 1]

Issue 20's target: a 50-trial ``tune`` of the example at least 3x faster than
before the outbox (main at 9825874), in one invocation. Each tree (``--before``
and this one) gets its own clone of this repository's ``main`` (the same
example, as a new user has it) with its own mirror cache, and runs its own
``python -m mlrecipes.cli`` (that tree's ``.venv``): first a plain ``run`` of
the example (sync, environments, the MLflow store: not timed), then, timed as
a whole process::

    mlrecipes tune -f workspace.example.yaml \
        -S 'train.lr=tag(log, interval(0.01, 1))' -S 'train.epochs=range(5, 30)' \
        --objective evaluate.auc --direction max --trials 50 --sampler random \
        --seed R --study bench-R

Round R uses seed R in both trees (the same 50 points; ``featurize`` is a store
hit, ``train`` and ``evaluate`` run in every trial); the trees alternate
which goes first from one round to the next. This tree's warm tracker is
stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACE = ("train.lr=tag(log, interval(0.01, 1))", "train.epochs=range(5, 30)")


def cli(tree: Path, clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    python = tree / ".venv" / "bin" / "python"
    env = {**os.environ, "MLRECIPES_CACHE_DIR": str(clone / ".cache")}
    env.pop("CI", None)
    argv = [str(python), "-m", "mlrecipes.cli", *args]
    done = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {clone}: exit {done.returncode}\n{done.stderr}")
    return done


def prepare(tree: Path, clone: Path) -> None:
    subprocess.run(["git", "clone", "-q", "-b", "main", str(ROOT), str(clone)], check=True)
    cli(tree, clone, "run", "-f", "workspace.example.yaml")


def tune(tree: Path, clone: Path, trials: int, seed: int) -> float:
    sets = [arg for space in SPACE for arg in ("-S", space)]
    start = time.perf_counter()
    done = cli(
        tree, clone, "tune", "-f", "workspace.example.yaml", *sets,
        "--objective", "evaluate.auc", "--direction", "max", "--trials", str(trials),
        "--sampler", "random", "--seed", str(seed), "--study", f"bench-{seed}",
    )  # fmt: skip
    took = time.perf_counter() - start
    said = done.stdout + done.stderr  # where the summary line goes changed between versions
    if f"{trials} complete" not in said:
        raise RuntimeError(f"tune in {clone} did not complete {trials} trials:\n{said}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    times: dict[str, list[float]] = {label: [] for label in trees}
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE')}")
    with tempfile.TemporaryDirectory(prefix="bench-tune-example-") as tmp:
        clones = {label: Path(tmp) / label for label in trees}
        try:
            for label, tree in trees.items():
                prepare(tree, clones[label])
            for seed in range(args.rounds):
                order = list(trees) if seed % 2 == 0 else list(reversed(trees))
                for label in order:
                    load = os.getloadavg()[0]
                    took = tune(trees[label], clones[label], args.trials, seed)
                    times[label].append(took)
                    print(
                        f"round {seed} {label:6s} {took:7.2f} s "
                        f"({took / args.trials:.2f} s/trial), load {load:.1f} -> "
                        f"{os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        finally:
            if clones["after"].exists():
                cli(ROOT, clones["after"], "tracker", "stop", "-f", "workspace.example.yaml")
    before, after = sum(times["before"]), sum(times["after"])
    print(f"{args.trials}-trial tune of the example, {args.rounds} round(s):")
    print(f"  before ({args.before}) {before:8.2f} s")
    print(f"  after  (this tree)     {after:8.2f} s")
    print(f"  ratio                  {before / after:8.2f}x")


if __name__ == "__main__":
    main()
