"""Benchmark of ``tune``: 50 trials of a 10-step pipeline, with the step cache and without.

Run (figures in benchmarks/README.md)::

    env -u PYTHONDONTWRITEBYTECODE uv run python benchmarks/bench_tune.py

A linear pipeline of 10 steps (step i reads step i-1's output and adds its own
``x``); the search space touches only the last two steps (``s0008.x``,
``s0009.x``). With the cache, the first trial runs all 10 steps and every later
trial only the last two; "no cache" is the same 50 trials (random sampler, the
same seed, so the same points) with ``RunOptions(force=<every step>)``, so every
trial runs all 10 steps: what a sweeper without a step cache (Hydra's Optuna
sweeper around a script) pays. Both use the Python API in one process, after a
sync and a warm-up run (not timed). ``--step-seconds`` makes each step sleep,
to stand in for real work.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from mlrecipes.core import RunOptions, TuneOptions, Workspace

STEPS = 10
SLEEPY_STEP = '''\
import time
from pathlib import Path
from typing import Optional


def step(*, x: float, out: Path, inp: Optional[Path] = None, sleep: float = 0.0) -> dict:
    """Add x to the upstream value (after ``sleep`` seconds of "work") and write it."""
    time.sleep(sleep)
    value = x + (float(inp.read_text()) if inp is not None else 0.0)
    out.write_text(str(value))
    return {"v": value}
'''


def name(i: int) -> str:
    return f"s{i:04d}"


def make_workspace(root: Path, step_seconds: float) -> Path:
    """A git repo with the step module, and a workspace over it; the manifest."""
    repo = root / "repo"
    repo.mkdir(parents=True)
    (repo / "benchstep.py").write_text(SLEEPY_STEP)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "step"],
        cwd=repo,
        check=True,
    )
    lines = [
        "version: 1",
        "name: bench-tune",
        f"mlflow: {{tracking_uri: 'sqlite:///{root / 'mlflow.db'}'}}",
        "repos:",
        f"  bench: {{url: '{repo}', rev: main}}",
        "steps:",
    ]
    for i in range(STEPS):
        deps = f", deps: {{inp: !out {name(i - 1)}.out}}" if i else ""
        params = f"{{x: {i}, sleep: {step_seconds}}}"
        step = f"fn: bench:benchstep.step, params: {params}{deps}, outs: {{out: out.txt}}"
        lines.append(f"  {name(i)}: {{{step}}}")
    manifest = root / "ws" / "workspace.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def tune_seconds(
    manifest: Path, *, trials: int, study: str, force: bool, jobs: int, seed: int = 0
) -> float:
    steps = [name(i) for i in range(STEPS)]
    options = TuneOptions(
        space=(f"{name(STEPS - 2)}.x=interval(0, 1)", f"{name(STEPS - 1)}.x=interval(0, 1)"),
        objective=f"{name(STEPS - 1)}.v",
        direction="min",
        trials=trials,
        sampler="random",
        seed=seed,
        study=study,
        run=RunOptions(jobs=jobs, force=tuple(steps) if force else ()),
    )
    start = time.perf_counter()
    result = Workspace.load(manifest).tune(options=options)
    elapsed = time.perf_counter() - start
    assert result.ran == trials and not result.failed, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--step-seconds", type=float, default=0.0)
    parser.add_argument("--jobs", type=int, default=2, help="steps side by side in a trial")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp:
        manifest = make_workspace(Path(tmp), args.step_seconds)
        ws = Workspace.load(manifest)
        ws.sync()
        ws.run(options=RunOptions(jobs=args.jobs))  # warm-up: MLflow store, imports
        # warm-up of Optuna (import, study database) at other points than the timed ones
        tune_seconds(manifest, trials=1, study="warm-up", force=False, jobs=args.jobs, seed=99)
        cached = tune_seconds(
            manifest, trials=args.trials, study="cached", force=False, jobs=args.jobs
        )
        forced = tune_seconds(
            manifest, trials=args.trials, study="forced", force=True, jobs=args.jobs
        )
    print(f"{args.trials} trials, {STEPS}-step linear pipeline, search on the last 2 steps,")
    print(f"each step sleeps {args.step_seconds} s; --jobs {args.jobs} within a trial")
    print(f"  with the cache   {cached:8.1f} s  ({cached / args.trials:.2f} s/trial)")
    print(f"  without (force)  {forced:8.1f} s  ({forced / args.trials:.2f} s/trial)")
    print(f"  ratio            {forced / cached:8.2f}x")


if __name__ == "__main__":
    main()
