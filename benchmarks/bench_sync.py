"""Benchmark of mlrecipes.git_sources: cold sync in parallel vs serial, and a no-op re-sync.

Run with ``uv run python benchmarks/bench_sync.py [--repos 10] [--files 200]``.
Creates local repositories in a temp folder; needs no network.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mlrecipes.git_sources import Resolved, SourceSpec, sync_sources

GOAL_NOOP_S = 0.5


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repos(root: Path, count: int, files: int) -> list[SourceSpec]:
    """``count`` repositories of ``files`` small files each, with a tag and two commits."""
    specs = []
    for i in range(count):
        repo = root / f"repo{i:02d}"
        (repo / "src").mkdir(parents=True)
        _git(repo, "init", "-q", "-b", "main")
        for j in range(files):
            (repo / "src" / f"m{j:04d}.py").write_text(f"VALUE = {i * 1000 + j}\n" * 20)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "one")
        _git(repo, "tag", "v1")
        (repo / "README.md").write_text("two\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "two")
        specs.append(SourceSpec(f"repo{i:02d}", str(repo), "main"))
    return specs


def timed(fn: Callable[[], list[Resolved]]) -> tuple[float, list[Resolved]]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=min(8, 2 * (os.cpu_count() or 1)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        env_home = root / "home"
        env_home.mkdir()
        (env_home / ".gitconfig").write_text(
            "[user]\n\tname = Bench\n\temail = b@example.invalid\n"
        )
        os.environ["GIT_CONFIG_GLOBAL"] = str(env_home / ".gitconfig")
        specs = make_repos(root / "upstream", args.repos, args.files)
        rows: list[tuple[str, float]] = []

        def run(tag: str, jobs: int, **kw: object) -> list[Resolved]:
            return sync_sources(
                specs, checkouts_dir=root / tag / "co", cache_dir=root / tag / "cache",
                jobs=jobs, **kw,  # type: ignore[arg-type]
            )  # fmt: skip

        serial, _ = timed(lambda: run("serial", 1))
        parallel, resolved = timed(lambda: run("parallel", args.jobs))
        pins = {r.name: r.commit for r in resolved}
        noop = min(timed(lambda: run("parallel", args.jobs, pinned=pins))[0] for _ in range(5))
        moving = min(timed(lambda: run("parallel", args.jobs))[0] for _ in range(3))
        rows += [
            ("cold sync, jobs=1", serial),
            (f"cold sync, jobs={args.jobs}", parallel),
            ("no-op re-sync, pinned (best of 5)", noop),
            ("re-sync, unpinned branches (fetch; best of 3)", moving),
        ]
    print(f"{args.repos} local repos x {args.files} files, {os.cpu_count()} cpus")
    print(f"{'case':<48} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:<48} {seconds:>8.3f}")
    print(f"{'speed-up of jobs=' + str(args.jobs) + ' over jobs=1':<48} {serial / parallel:>7.2f}x")
    verdict = "met" if noop <= GOAL_NOOP_S else "MISSED"
    print(f"no-op goal <= {GOAL_NOOP_S} s: {verdict}")


if __name__ == "__main__":
    main()
