"""The README's first command on a fresh clone: ``mlrecipes run -f workspace.example.yaml``.

    uv run python benchmarks/bench_example.py [--repeat 2]

Clones this repository's ``main`` into a temp folder (as a new user would),
then runs ``python -m mlrecipes.cli -v run -f workspace.example.yaml`` there
with a fresh mirror cache (the uv cache stays warm, as after ``uv sync``).
Reports, with ``PYTHONDONTWRITEBYTECODE`` set and unset: seconds from the
command to the first step's start (the ``start`` line of ``-v``), and to the
end of the command (everything logged to MLflow). Issue 11's targets: first
step ≤ 1.5 s after the command, whole run ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(tmp: Path, bytecode: bool) -> tuple[float | None, float]:
    clone = tmp / f"clone-{time.monotonic_ns()}"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "MLRECIPES_CACHE_DIR": str(clone / ".cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [sys.executable, "-m", "mlrecipes.cli", "-v", "run", "-f", "workspace.example.yaml"]
    start = time.perf_counter()
    first: float | None = None
    proc = subprocess.Popen(
        argv, cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if first is None and line.strip().startswith("start"):
            first = time.perf_counter() - start
    code = proc.wait()
    total = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"run failed with exit code {code}")
    return first, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print("| PYTHONDONTWRITEBYTECODE | first step starts | whole run |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-example-") as tmp:
        for bytecode in (False, True):
            for _ in range(args.repeat):
                first, total = one_run(Path(tmp), bytecode)
                label = "unset" if bytecode else "set (=1)"
                shown = "-" if first is None else f"{first:.2f} s"
                print(f"| {label} | {shown} | {total:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
