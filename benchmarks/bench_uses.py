"""Cost of seeing the installed code (issue 12): environment identity and a no-op ``run``.

Run from the repository root::

    uv run python benchmarks/bench_uses.py identity     # this branch only
    uv run python benchmarks/bench_uses.py noop         # any version of mlrecipes

``identity``: an environment of 200 distributions (180 from an index, 15 git
installs with a ``direct_url.json``, 5 editable installs of folders of a real
git checkout, as a uv workspace installs its members), read by
:func:`mlrecipes.core.sync.env_identity.env_identity`: cold (the checkout's tree cache
empty) and warm (nothing changed: the case of every ``run``). Target: warm <= 50 ms.

``noop``: a two-repo, two-step workspace, run once, then the no-op rerun timed
in process (``Workspace.run``, median of 7) and as a fresh CLI process (median
of 3). Uses only what every version has, so the same script measures main
(``/work/main/.venv/bin/python benchmarks/bench_uses.py noop``) and this branch.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = "def step(out, x: int = 1) -> dict:\n    out.write_text(str(x))\n    return {'x': x}\n"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    _git(path, "add", "-A")
    _git(path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "one")
    return _git(path, "rev-parse", "HEAD")


def _fake_env(root: Path, checkout: Path) -> Path:
    site = root / "env" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for i in range(200):
        info = site / f"pkg{i:03d}-1.{i}.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Name: pkg{i:03d}\nVersion: 1.{i}.0\n")
        if 180 <= i < 195:
            url = {
                "url": f"https://example.com/p{i}.git",
                "vcs_info": {"vcs": "git", "commit_id": "a" * 40},
            }
            (info / "direct_url.json").write_text(json.dumps(url))
        elif i >= 195:
            member = checkout / "packages" / f"m{i}"
            url = {"url": member.as_uri(), "dir_info": {"editable": True}}
            (info / "direct_url.json").write_text(json.dumps(url))
            (site / f"_pkg{i:03d}.pth").write_text(f"{member}\n")
    return root / "env"


def identity(rounds: int = 21) -> None:
    from mlrecipes.core.envs import Environment
    from mlrecipes.core.sync.env_identity import env_identity
    from mlrecipes.git_sources import Resolved

    with tempfile.TemporaryDirectory(prefix="bench-uses-") as tmp:
        root = Path(tmp)
        checkout = root / "checkout"
        files = {f"packages/m{i}/m{i}/__init__.py": f"X = {i}\n" for i in range(195, 200)}
        commit = _repo(checkout, {**files, "packages/app/app.py": "Y = 1\n"})
        _git(checkout, "checkout", "-q", "--detach", commit)  # as sync leaves a checkout
        tree = _git(checkout, "rev-parse", f"{commit}:packages/app")
        source = Resolved("mono", str(checkout), "main", commit, "packages/app", tree, checkout)
        venv = _fake_env(root, checkout)
        env = Environment("k", venv, venv / "bin" / "python", "", "uv-lock")
        start = time.perf_counter()
        first = env_identity(env, {"mono": source})
        cold = time.perf_counter() - start
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            again = env_identity(env, {"mono": source})
            times.append(time.perf_counter() - start)
        assert again.digest == first.digest and len(first.packages) == 205
        print(
            f"env identity, 200 distributions + 5 .pth: cold {cold * 1e3:.1f} ms, "
            f"warm median {statistics.median(times) * 1e3:.1f} ms "
            f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}; target <= 50 ms)"
        )


def noop(rounds: int = 7, cli_rounds: int = 3) -> None:
    from mlrecipes.core import Workspace

    with tempfile.TemporaryDirectory(prefix="bench-noop-") as tmp:
        root = Path(tmp)
        _repo(root / "up" / "a", {"moda.py": APP})
        _repo(root / "up" / "b", {"modb.py": APP})
        ws_dir = root / "ws"
        ws_dir.mkdir()
        manifest = ws_dir / "workspace.yaml"
        manifest.write_text(
            "version: 1\nname: bench\nrepos:\n"
            "  a: {url: ../up/a, rev: main}\n  b: {url: ../up/b, rev: main}\n"
            "steps:\n"
            "  s1: {fn: 'a:moda.step', outs: {out: o.txt}}\n"
            "  s2: {fn: 'b:modb.step', params: {x: 2}, outs: {out: o.txt}}\n"
        )
        ws = Workspace.load(manifest)
        ws.run()
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            assert Workspace.load(manifest).run().up_to_date
            times.append(time.perf_counter() - start)
        cli = []
        for _ in range(cli_rounds):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "mlrecipes.cli", "run"],
                cwd=ws_dir,
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - start)
        print(
            f"no-op run: API median {statistics.median(times) * 1e3:.0f} ms "
            f"(min {min(times) * 1e3:.0f}), CLI median {statistics.median(cli):.2f} s "
            f"(min {min(cli):.2f} s)"
        )


if __name__ == "__main__":
    os.environ.setdefault("MLRECIPES_CACHE_DIR", tempfile.mkdtemp(prefix="bench-cache-"))
    {"identity": identity, "noop": noop}[sys.argv[1] if len(sys.argv) > 1 else "identity"]()
