"""`validate` of a large manifest: libyaml's C parser vs pure-Python PyYAML (issue 16, item 18).

Generates a manifest of N steps (each: fn, three params, an `!out` dep on the
previous step, a `!path` dep, two outs) and times `load_manifest` (all the
checks `mlrecipes validate` does) in a fresh interpreter per mode, side by side:
``c`` uses ``yaml.CSafeLoader`` as the loader base (the default when PyYAML has
libyaml), ``python`` hides it so the pure-Python ``SafeLoader`` is used.

    uv run python benchmarks/bench_validate.py --steps 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

_CHILD = textwrap.dedent(
    """
    import sys, time
    import yaml
    if sys.argv[2] == "python":
        del yaml.CSafeLoader  # the manifest loader falls back to the pure-Python SafeLoader
    from mlrecipes.core.manifest import load_manifest
    from mlrecipes.core.manifest import _yaml
    start, cpu = time.perf_counter(), time.process_time()
    manifest = load_manifest(sys.argv[1])
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{took:.3f} {cpu:.3f} {_yaml.ScalarLoader.__mro__[1].__name__}")
    """
)


def write_manifest(folder: Path, steps: int, *, path_outs: bool = True) -> Path:
    lines = [
        "version: 1",
        "name: big",
        "paths: {raw: data, out: outputs}",
        "params: {lr: 0.1, seed: 1}",
        "repos:",
        "  r: {url: ../r, rev: main}",
        "steps:",
    ]
    for i in range(steps):
        dep = f"!out s{i - 1}.table" if i else "!path raw/input.txt"
        lines += [
            f"  s{i}:",
            "    fn: r:pkg.steps.transform",
            f"    params: {{lr: !param lr, seed: !param seed, index: {i}}}",
            f"    deps: {{table_in: {dep}, extra: !path raw/extra_{i % 10}.txt}}",
            f"    outs: {{table: table.parquet, report: !path out/report_{i}.json}}"
            if path_outs
            else "    outs: {table: table.parquet, report: report.json}",
        ]
    path = folder / "workspace.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(manifest: Path, mode: str, timeout: float) -> tuple[float, float, str]:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(manifest), mode],
            capture_output=True,
            text=True,
            check=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return float("inf"), float("inf"), "timed out"
    took, cpu, base = done.stdout.split()
    return float(took), float(cpu), base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300, help="per load, seconds")
    parser.add_argument(
        "--no-path-outs", action="store_true", help="outputs in the store only (no !path outs)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_manifest(Path(tmp), args.steps, path_outs=not args.no_path_outs)
        size = manifest.stat().st_size
        print(f"{args.steps} steps, {size / 1e6:.2f} MB; best of {args.repeat} runs each")
        for mode in ("python", "c"):
            results = [measure(manifest, mode, args.timeout) for _ in range(args.repeat)]
            wall = min(r[0] for r in results)
            cpu = min(r[1] for r in results)
            print(f"  {mode:>6} ({results[0][2]}): {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
