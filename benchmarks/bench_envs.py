"""Benchmark of uv environments: reuse, a second env with equal dependencies, parallel builds.

Run: ``uv run python benchmarks/bench_envs.py``. Builds real environments with
real packages from PyPI in a temp folder; the "cold" rows use a fresh uv cache
so downloads count, the "warm" rows the user's uv cache.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mlrecipes.core.envs import (
    Environment,
    EnvSpec,
    ensure_environment,
    ensure_environments,
    environment_key,
)

BUILD_SYSTEM = '[build-system]\nrequires = ["uv_build>=0.8,<1"]\nbuild-backend = "uv_build"\n'
PROJECTS: dict[str, list[str]] = {
    "features": ["requests==2.32.3"],
    "models": ["attrs==24.2.0", "packaging==24.1"],
    "evaluation": ["pyyaml==6.0.2", "six==1.17.0"],
}


def make_project(root: Path, name: str, deps: Sequence[str]) -> Path:
    folder = root / name
    (folder / "src" / name).mkdir(parents=True)
    (folder / "src" / name / "__init__.py").write_text("")
    (folder / ".git").mkdir()
    listed = ", ".join(f'"{d}"' for d in deps)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{listed}]\n{BUILD_SYSTEM}'
    )
    return folder


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reuse_rows(root: Path) -> list[tuple[str, float]]:
    envs = root / "envs"
    one = EnvSpec("features", make_project(root / "ws1", "features", PROJECTS["features"]))
    first = timed(lambda: ensure_environment(one, envs_dir=envs))
    # The same repo checked out by a second workspace: same deps, another folder.
    two = EnvSpec("features", make_project(root / "ws2", "features", PROJECTS["features"]))
    second = timed(lambda: ensure_environment(two, envs_dir=envs))
    resync = statistics.median(
        timed(lambda: ensure_environment(one, envs_dir=envs)) for _ in range(50)
    )
    key = statistics.median(timed(lambda: environment_key(one)) for _ in range(50))
    return [
        ("first environment (warm cache)", first),
        ("second environment, same dependencies (goal <= 1 s)", second),
        ("re-sync, nothing changed (median of 50)", resync),
        ("environment_key alone (median of 50)", key),
    ]


def parallel_rows(root: Path, *, cold: bool) -> list[tuple[str, float]]:
    """Build the three projects one at a time, then three at a time (fresh folders each)."""
    label = "cold cache" if cold else "warm cache"
    rows = []
    for jobs in (1, 3):
        base = root / f"j{jobs}"
        specs = [EnvSpec(n, make_project(base, n, deps)) for n, deps in PROJECTS.items()]
        cache = base / "uv-cache" if cold else None  # a fresh cache: downloads count
        start = time.perf_counter()
        results = ensure_environments(specs, envs_dir=base / "envs", jobs=jobs, uv_cache_dir=cache)
        elapsed = time.perf_counter() - start
        failed = {repo: r for repo, r in results.items() if not isinstance(r, Environment)}
        assert not failed, failed
        rows.append((f"3 environments, {label}, jobs={jobs}", elapsed))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-envs-") as tmp:
        root = Path(tmp)
        # Warm the user's uv cache first so the warm rows do not include downloads.
        parallel_rows(root / "warmup", cold=False)
        rows = reuse_rows(root / "reuse")
        rows += parallel_rows(root / "warm", cold=False)
        rows += parallel_rows(root / "cold", cold=True)
    width = max(len(name) for name, _ in rows)
    print(f"{'case'.ljust(width)}  {'time':>10}")
    print(f"{'-' * width}  {'-' * 10}")
    for name, seconds in rows:
        shown = f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
        print(f"{name.ljust(width)}  {shown:>10}")


if __name__ == "__main__":
    main()
