"""Read-only commands, ``exp show`` and ``ui`` as whole processes (issue 11).

    uv run python benchmarks/bench_cli.py [--steps 100] [--runs 100] [--repeat 5] [--ui 2]

Builds under /tmp/mlrecipes-bench-cli (fresh each time, sync and runs not timed):

* ``big``: ``--steps`` trivial steps in a line, run once, so that ``run`` has
  nothing to do;
* ``exp``: 5 steps, run as one sweep of ``--runs`` values of the last step's
  param, so its experiment holds ``--runs`` pipeline runs (+1 baseline).

Then times each command as a fresh ``python -m mlrecipes.cli`` process,
``--repeat`` times (median and min), in two bytecode modes, side by side:

* ``PYTHONDONTWRITEBYTECODE=1`` as on the development image: the installed
  packages have the bytecode ``uv sync`` compiled (``compile-bytecode``), this
  repository's own packages (editable installs) are compiled in every process;
* unset: every module's bytecode is cached (in a ``PYTHONPYCACHEPREFIX`` folder
  under /tmp, so this repository's tree is left alone; warmed up first).

``exp show`` is timed warm (the workspace's run summaries answer), cold (the
summaries deleted before each call: every run is read from MLflow) and with
``--filter`` (MLflow search syntax: always MLflow). ``python -c "import mlflow"``
is the reference. ``--ui N`` times N starts of ``mlrecipes ui`` and of plain
``mlflow ui`` on the same store until the first page answers, alternating.
The machine may be shared: compare the columns of one invocation, not runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path("/tmp/mlrecipes-bench-cli")
PYC = ROOT / "pyc"
STEP = """\
def step(*, x: int, out, inp=None) -> dict:
    value = x + (int(inp.read_text()) if inp is not None else 0)
    out.write_text(str(value))
    return {"v": float(value), "w": float(value) / 2}
"""


def sh(*args: str | Path, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "benchstep.py").write_text(STEP)
    sh("git", "init", "-q", "-b", "main", cwd=path)
    sh("git", "add", "-A", cwd=path)
    sh("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "step", cwd=path)
    return path


def make_workspace(folder: Path, name: str, steps: int, repo: Path) -> Path:
    lines = ["version: 1", f"name: {name}", "repos:", f"  bench: {{url: '{repo}', rev: main}}"]
    lines.append("steps:")
    for i in range(steps):
        deps = f", deps: {{inp: !out s{i - 1:04d}.out}}" if i else ""
        fn = "fn: bench:benchstep.step"
        lines.append(f"  s{i:04d}: {{{fn}, params: {{x: {i}}}{deps}, outs: {{out: o.txt}}}}")
    folder.mkdir(parents=True)
    (folder / "workspace.yaml").write_text("\n".join(lines) + "\n")
    return folder


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlrecipes.cli", *args]


def env_for(mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if mode == "set":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(PYC)
    return env


def timed(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], before: Callable[[], None]
) -> float:
    before()
    start = time.perf_counter()
    sh(*argv, cwd=cwd, env=env)
    return time.perf_counter() - start


def measure(
    argv: Sequence[str], cwd: Path, repeat: int, before: Callable[[], None] = lambda: None
) -> dict[str, list[float]]:
    """``repeat`` timings per bytecode mode, the modes interleaved so load hits both alike."""
    timed(argv, cwd, env_for("unset"), before)  # warm the unset mode's bytecode cache
    found: dict[str, list[float]] = {"set": [], "unset": []}
    for _ in range(repeat):
        for mode in found:
            found[mode].append(timed(argv, cwd, env_for(mode), before))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def first_page(argv: Sequence[str], port: int, cwd: Path, timeout: float = 600) -> float:
    """Seconds from starting ``argv`` until ``/`` on ``port`` answers 200; then stops it."""
    start = time.perf_counter()
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env_for("set"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as process:
        try:
            while time.perf_counter() - start < timeout:
                try:
                    url = f"http://127.0.0.1:{port}/"
                    with urllib.request.urlopen(url, timeout=5) as answer:
                        if answer.status == 200:
                            return time.perf_counter() - start
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.2)
            raise TimeoutError(f"{argv} did not answer in {timeout} s")
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its process group (server and workers), SIGKILL if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:  # four busy uvicorn workers can take that long
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def bench_ui(ws: Path, rounds: int) -> dict[str, list[float]]:
    uri = f"sqlite:///{ws / '.mlrecipes' / 'mlflow.db'}"
    found: dict[str, list[float]] = {"mlrecipes ui": [], "mlflow ui": []}
    for _ in range(rounds):
        port = free_port()
        found["mlrecipes ui"].append(first_page(cli("ui", "--port", str(port)), port, ws))
        port = free_port()
        plain = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri]
        found["mlflow ui"].append(first_page([*plain, "--port", str(port)], port, ws))
    return found


def row(what: str, found: Mapping[str, list[float]]) -> str:
    cells = [f"{statistics.median(v):.2f} s (min {min(v):.2f})" for v in found.values()]
    return f"| {what} | " + " | ".join(cells) + " |"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ui", type=int, default=2, help="rounds of UI starts (0: none)")
    parser.add_argument("--only-ui", action="store_true", help="skip the command timings")
    return parser.parse_args()


def setup(steps: int, runs: int) -> tuple[Path, Path]:
    shutil.rmtree(ROOT, ignore_errors=True)
    repo = make_repo(ROOT / "repo")
    big = make_workspace(ROOT / "big", "big", steps, repo)
    sh(*cli("run", "-j", "2"), cwd=big, env=env_for("set"))
    exp = make_workspace(ROOT / "exp", "exp", 5, repo)
    sh(*cli("run", "-j", "2"), cwd=exp, env=env_for("set"))
    values = ",".join(str(v) for v in range(100, 100 + runs))
    sh(*cli("run", "-j", "2", "-S", f"s0004.x={values}"), cwd=exp, env=env_for("set"))
    return big, exp


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    big, exp = setup(args.steps, args.runs)
    print(f"setup {time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.1f}")
    summaries = exp / ".mlrecipes" / "runs"

    def drop_summaries() -> None:
        for path in summaries.glob("summaries-*.json"):
            path.unlink()

    cases: list[tuple[str, list[str], Path, Callable[[], None]]] = [
        ("`--help`", cli("--help"), big, lambda: None),
        (f"`dag` ({args.steps} steps)", cli("dag"), big, lambda: None),
        (f"`validate` ({args.steps} steps)", cli("validate"), big, lambda: None),
        ("`workspace status`", cli("workspace", "status"), big, lambda: None),
        (f"no-op `run` ({args.steps} steps)", cli("run", "-j", "2"), big, lambda: None),
        (f"`exp show` ({args.runs + 1} runs, warm)", cli("exp", "show"), exp, lambda: None),
        (f"`exp show` ({args.runs + 1} runs, cold)", cli("exp", "show"), exp, drop_summaries),
        (
            "`exp show --filter` (MLflow)",
            cli("exp", "show", "--filter", "attributes.status = 'FINISHED'"),
            exp,
            lambda: None,
        ),
        ('`python -c "import mlflow"`', [sys.executable, "-c", "import mlflow"], big, lambda: None),
        (
            "`import mlrecipes.cli.main`",
            [sys.executable, "-c", "import mlrecipes.cli.main"],
            big,
            lambda: None,
        ),
        # typer >= 0.2x validates every option of the invoked command with pydantic.
        (
            "`import typer._adapters`",
            [sys.executable, "-c", "import typer._adapters"],
            big,
            lambda: None,
        ),
        ("`python -c pass`", [sys.executable, "-c", "pass"], big, lambda: None),
    ]
    print("| command, whole process | PYTHONDONTWRITEBYTECODE=1 | unset |")
    print("|---|---|---|")
    for what, argv, cwd, before in [] if args.only_ui else cases:
        print(row(what, measure(argv, cwd, args.repeat, before)), flush=True)
    if args.ui:
        print("\n| until the first page answers | `mlrecipes ui` | `mlflow ui` |")
        print("|---|---|---|")
        print(row("embedded sqlite store", bench_ui(exp, args.ui)), flush=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
