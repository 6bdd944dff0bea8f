"""Code dependencies (issue 21): steps rerun after a one-file commit, and the recording cost.

Run from the repository root::

    uv run python benchmarks/bench_codedeps.py saving   # 20 steps, 4 repos, real uv and steps
    uv run python benchmarks/bench_codedeps.py cost     # a trivial step, recorded or not

``saving``: repo ``common`` holds five step modules and a helper; repos
``feats``, ``models`` and ``evals`` each hold five steps and ``use`` common (an
unpackaged repo, on their ``sys.path`` through a ``.pth`` file). Every step
imports the helper of common. The workspace runs once; then one commit
changes one file and the plan counts the steps to rerun, once with the tree
rule (``cache: {code: tree}`` on every repo: how main decides) and once with
the recorded files (the default). Two commits: ``common/s2.py`` (one step's
module) and ``common/helper.py`` (imported by all: no saving expected, and
none would be correct). The reruns are timed too.

``cost``: the step runner on a trivial step (it writes one small file) in a
checkout, with and without recording (``observe`` in its spec), alternated,
``PYTHONDONTWRITEBYTECODE=1``; median wall time of each, plus the parent's
hashing of the record after the step (not on the step's time). Target: the
recording adds <= 5 % to the trivial step.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")

STEP = """
from pathlib import Path

from helper import scale


def run(out: Path, x: int = 1) -> dict:
    out.write_text(str(scale(x)))
    return {{"y": scale(x) + {k}}}
"""
REPOS = ("common", "feats", "models", "evals")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", message)


def _workspace(root: Path, rule: str) -> Path:
    """Four repos of five steps each (module ``<repo>_s<k>.py``), all using common."""
    for repo in REPOS:
        path = root / "upstream" / repo
        path.mkdir(parents=True)
        _git(path, "init", "-q", "-b", "main")
        files = {f"{repo}_s{k}.py": STEP.format(k=k) for k in range(5)}
        files["requirements.txt"] = "\n"
        if repo == "common":
            files["helper.py"] = "def scale(x: int) -> int:\n    return 2 * x\n"
        _commit(path, files, "one")
    lines = ["version: 1", "name: bench", "repos:"]
    for repo in REPOS:
        uses = "" if repo == "common" else ", uses: [common]"
        lines.append(
            f"  {repo}: {{url: ../upstream/{repo}, rev: main, cache: {{code: {rule}}}{uses}}}"
        )
    lines.append("steps:")
    for repo in REPOS:
        for k in range(5):
            lines.append(f"  {repo}_{k}: {{fn: '{repo}:{repo}_s{k}.run', outs: {{out: o.txt}}}}")
    ws = root / "ws"
    ws.mkdir()
    (ws / "workspace.yaml").write_text("\n".join(lines) + "\n")
    return ws / "workspace.yaml"


def _rerun_count(ws: object) -> int:
    from mlrecipes.core import Workspace

    assert isinstance(ws, Workspace)
    return len(ws.plan().to_run)


def saving() -> None:
    from mlrecipes.core import Workspace

    rows = []
    for rule in ("tree", "files"):
        with tempfile.TemporaryDirectory(prefix=f"bench-codedeps-{rule}-") as tmp:
            manifest = _workspace(Path(tmp), rule)
            ws = Workspace.load(manifest)
            t0 = time.perf_counter()
            ws.run()
            first = time.perf_counter() - t0
            common = Path(tmp) / "upstream" / "common"
            for rel in ("common_s2.py", "helper.py"):
                text = (common / rel).read_text() + "# one-line change\n"
                _commit(common, {rel: text}, f"touch {rel}")
                ws.sync(update=["common"])
                planned = _rerun_count(ws)
                t0 = time.perf_counter()
                ws.run()
                rows.append((rule, rel, planned, time.perf_counter() - t0, first))
    print("| rule | commit touches | steps rerun (of 20) | rerun wall s | first run s |")
    print("|---|---|---|---|---|")
    for rule, rel, planned, took, first in rows:
        print(f"| {rule} | common/{rel} | {planned} | {took:.1f} | {first:.1f} |")


TRIVIAL = "def run(out):\n    with open(out, 'w') as fh:\n        fh.write('x')\n"


def cost(rounds: int = 41) -> None:
    from mlrecipes.core.codedeps import hash_observed
    from mlrecipes.core.executors import runner
    from mlrecipes.core.executors.task import StepTask

    with tempfile.TemporaryDirectory(prefix="bench-codedeps-cost-") as tmp:
        root = Path(tmp)
        repo = root / "checkout"
        (repo / "pkg").mkdir(parents=True)
        (repo / "pkg" / "__init__.py").write_text("")
        (repo / "pkg" / "trivial.py").write_text(textwrap.dedent(TRIVIAL))
        # A bare environment, as a step's repo with no dependencies gets from uv.
        subprocess.run(["uv", "venv", "-q", str(root / "env")], check=True)
        python = root / "env" / "bin" / "python"
        task = StepTask(
            key="k", step="s", fingerprint="f", python=python, cwd=repo,
            module="pkg.trivial", func="run", params={}, inputs={}, outputs={"out": "o.txt"},
            code_roots={"checkout": repo},
        )  # fmt: skip
        argv: dict[bool, list[str]] = {}
        for observe in (False, True):
            spec = runner.build_spec(
                task, entry=root / "entry", result=root / f"r{observe}.json",
                observed=root / "observed.json" if observe else None,
            )  # fmt: skip
            path = root / f"spec-{observe}.json"
            runner.write_spec(path, spec)
            argv[observe] = runner.runner_argv(python, path)
        times: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for i in range(rounds * 2):
            observe = i % 2 == 1
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv[observe], cwd=repo)
            _pid, status, usage = os.wait4(proc.pid, 0)
            times[observe].append(time.perf_counter() - t0)
            cpu[observe].append(usage.ru_utime + usage.ru_stime)
            assert os.waitstatus_to_exitcode(status) == 0
        observed = json.loads((root / "observed.json").read_text())
        t0 = time.perf_counter()
        for _ in range(rounds):
            hash_observed(observed, {"checkout": repo})
        hashing = (time.perf_counter() - t0) / rounds
    plain, recorded = statistics.median(times[False]), statistics.median(times[True])
    extra = (recorded / plain - 1) * 100
    print(f"trivial step, median of {rounds}: wall plain {plain * 1000:.1f} ms, ", end="")
    print(f"recorded {recorded * 1000:.1f} ms, cost {extra:+.1f} %")
    cpu_plain, cpu_recorded = statistics.median(cpu[False]), statistics.median(cpu[True])
    extra = (cpu_recorded / cpu_plain - 1) * 100
    print(f"  CPU (user+sys) plain {cpu_plain * 1000:.1f} ms, ", end="")
    print(f"recorded {cpu_recorded * 1000:.1f} ms, cost {extra:+.1f} %")
    print(f"parent-side hashing after the step: {hashing * 1000:.2f} ms ", end="")
    print(f"({len(observed['files'])} files, {len(observed['searches'])} searches)")


if __name__ == "__main__":
    {"saving": saving, "cost": cost}[sys.argv[1] if len(sys.argv) > 1 else "cost"]()
