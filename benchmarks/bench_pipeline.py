"""Whole-pipeline overhead of ``mlrecipes run`` (issue 6), optionally beside DVC.

    PYTHONDONTWRITEBYTECODE=1 uv run python benchmarks/bench_pipeline.py \
        [--sizes 10,100,1000] [--jobs 2] [--dvc] [--dvc-max 100] [--no-compile-sources]

Two shapes of N trivial Python steps, one param each, in one stdlib-only repo:
``linear`` (step i reads the output of step i-1) and ``fanout`` (one root,
N-1 leaves reading it). For each shape and N it times, after a sync (the
one-time checkout and environment build are excluded):

(a) the first run (``Workspace.load(...).run()``, in process), and the first run
    of a twin workspace (the same manifest in another folder, synced apart)
    as a fresh ``python -m mlrecipes.cli run`` (issue 20's "first run of a new
    workspace vs the same calls bare, CLI"; up to ``--cli-first-max`` steps);
(b) a no-op rerun, in process and as a fresh ``python -m mlrecipes.cli run``
    (the CLI adds interpreter start-up and imports);
(c) a rerun after ``-S <last step>.x=-1`` (one step runs);
(d) the same N calls of the function run bare: ``python -c`` with the same
    interpreter, one after another for ``linear``, ``--jobs`` at a time for
    ``fanout`` (after the root).

It also times planning a 300-variant sweep of a 10-step pipeline
(``make_plan`` only, after sync). With ``--dvc`` the same pipelines run under
``dvc repro`` in a separate venv (``/tmp/dvcbench-venv``), up to ``--dvc-max``
steps. All MLflow runs go to one shared SQLite store created by a warm-up
run, so its one-time schema migration is reported apart rather than charged
to whichever workspace happens to come first.

Measured with ``PYTHONDONTWRITEBYTECODE=1``, as CI images often set it: what
has bytecode is then what the install compiled. ``uv sync --compile-bytecode``
compiles the dependencies; mlrecipes' own sources are compiled here first, as
the README's ``uv tool install --compile-bytecode`` does for an installed tool
(``--no-compile-sources``: a dev checkout's cost instead).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlrecipes.core import RunOptions, Workspace
from mlrecipes.core.plan.planner import make_plan
from mlrecipes.core.plan.sweep import expand_overrides

SHAPES = ("linear", "fanout")
SWEEP_VARIANTS = 300
SWEEP_STEPS = 10
DVC_VENV = Path("/tmp/dvcbench-venv")

STEP_MODULE = '''\
from pathlib import Path
from typing import Optional


def step(*, x: int, out: Path, inp: Optional[Path] = None) -> dict:
    """Trivial: add x to the upstream value and write it."""
    value = x + (int(inp.read_text()) if inp is not None else 0)
    out.write_text(str(value))
    return {"v": float(value)}
'''


def name(i: int) -> str:
    return f"s{i:04d}"


def upstream(shape: str, i: int) -> int | None:
    """The step whose output step ``i`` reads, if any."""
    if i == 0:
        return None
    return i - 1 if shape == "linear" else 0


def sh(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """``with timer() as t: ...`` then ``t()`` is the elapsed seconds."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


# --- the workspace -----------------------------------------------------------


def make_step_repo(path: Path) -> Path:
    """A git repo holding ``benchstep.py`` and nothing else (a ``bare`` environment)."""
    path.mkdir(parents=True)
    (path / "benchstep.py").write_text(STEP_MODULE)
    sh("git", "init", "-q", "-b", "main", cwd=path)
    sh("git", "add", "-A", cwd=path)
    sh("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "step", cwd=path)
    return path


def manifest_text(shape: str, n: int, repo: Path, tracking_uri: str) -> str:
    lines = [
        "version: 1",
        f"name: bench-{shape}-{n}",
        f"mlflow: {{tracking_uri: '{tracking_uri}'}}",
        "repos:",
        f"  bench: {{url: '{repo}', rev: main}}",
        "steps:",
    ]
    for i in range(n):
        up = upstream(shape, i)
        deps = f", deps: {{inp: !out {name(up)}.out}}" if up is not None else ""
        step = f"fn: bench:benchstep.step, params: {{x: {i}}}{deps}, outs: {{out: out.txt}}"
        lines.append(f"  {name(i)}: {{{step}}}")
    return "\n".join(lines) + "\n"


def make_workspace(root: Path, shape: str, n: int, repo: Path, tracking_uri: str) -> Path:
    root.mkdir(parents=True)
    manifest = root / "workspace.yaml"
    manifest.write_text(manifest_text(shape, n, repo, tracking_uri))
    return manifest


def run_api(manifest: Path, jobs: int, overrides: Sequence[str] = ()) -> tuple[float, str, int]:
    """Seconds, status and number of executed steps of one in-process run."""
    with timer() as t:
        result = Workspace.load(manifest).run(
            options=RunOptions(overrides=tuple(overrides), jobs=jobs)
        )
    return t(), result.status, len(result.plan.to_run)


def run_cli(manifest: Path, jobs: int, overrides: Sequence[str] = ()) -> float:
    sets = [arg for o in overrides for arg in ("-S", o)]
    argv = [sys.executable, "-m", "mlrecipes.cli", "run", "-f", str(manifest), "-j", str(jobs)]
    with timer() as t:
        done = subprocess.run([*argv, *sets], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"CLI run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return t()


# --- bare commands -------------------------------------------------------------


def bare_call(python: Path, cwd: Path, out_dir: Path, shape: str, i: int) -> None:
    up = upstream(shape, i)
    inp = f"Path({str(out_dir / name(up))!r})" if up is not None else "None"
    code = (
        "from pathlib import Path; import benchstep; "
        f"benchstep.step(x={i}, out=Path({str(out_dir / name(i))!r}), inp={inp})"
    )
    subprocess.run([str(python), "-c", code], cwd=cwd, check=True)


def run_bare(python: Path, cwd: Path, out_dir: Path, shape: str, n: int, jobs: int) -> float:
    """The same N calls without mlrecipes: sequential (linear) or root then -j (fan-out)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with timer() as t:
        bare_call(python, cwd, out_dir, shape, 0)
        if shape == "linear":
            for i in range(1, n):
                bare_call(python, cwd, out_dir, shape, i)
        else:
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(lambda i: bare_call(python, cwd, out_dir, shape, i), range(1, n)))
    return t()


# --- one case --------------------------------------------------------------------


@dataclass
class Case:
    shape: str
    n: int
    first: float = 0.0
    first_cli: float | None = None
    bare: float = 0.0
    noop_api: float = 0.0
    noop_cli: float = 0.0
    param_api: float = 0.0
    param_cli: float | None = None
    dvc: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.first / self.bare

    @property
    def ratio_cli(self) -> str:
        return "-" if self.first_cli is None else f"{self.first_cli / self.bare:.2f}x"

    @property
    def overhead_ms(self) -> float:
        """Extra wall time per step over the bare commands."""
        return (self.first - self.bare) / self.n * 1000


def expect(status: str, ran: int, want_status: str, want_ran: int, what: str) -> None:
    if (status, ran) != (want_status, want_ran):
        raise RuntimeError(
            f"{what}: got {status} with {ran} steps run, want {want_status}/{want_ran}"
        )


def first_cli_run(root: Path, shape: str, n: int, repo: Path, uri: str, jobs: int) -> float:
    """Seconds of the CLI's first run of a new workspace (synced before, not timed)."""
    manifest = make_workspace(root / f"{shape}-{n}-cli", shape, n, repo, uri)
    Workspace.load(manifest).sync()
    return run_cli(manifest, jobs)


def bench_case(
    root: Path, shape: str, n: int, repo: Path, uri: str, jobs: int, cli_max: int, first_max: int
) -> Case:
    case = Case(shape, n)
    manifest = make_workspace(root / f"{shape}-{n}", shape, n, repo, uri)
    synced = Workspace.load(manifest).sync()
    ctx = synced.repos["bench"]
    python, cwd = ctx.env.python, ctx.source.project_dir
    case.bare = run_bare(python, cwd, root / "bare" / f"{shape}-{n}", shape, n, jobs)
    case.first, status, ran = run_api(manifest, jobs)
    expect(status, ran, "FINISHED", n, "first run")
    if n <= first_max:
        case.first_cli = first_cli_run(root, shape, n, repo, uri, jobs)
    case.noop_api, status, ran = run_api(manifest, jobs)
    expect(status, ran, "UP_TO_DATE", 0, "no-op rerun")
    case.noop_cli = run_cli(manifest, jobs)
    last = name(n - 1)
    case.param_api, status, ran = run_api(manifest, jobs, [f"{last}.x=-1"])
    expect(status, ran, "FINISHED", 1, "one-param rerun")
    if n <= cli_max:
        case.param_cli = run_cli(manifest, jobs, [f"{last}.x=-2"])
    return case


# --- sweep planning ----------------------------------------------------------------


def bench_sweep(root: Path, repo: Path, uri: str) -> dict[str, float]:
    """Seconds to plan SWEEP_VARIANTS variants of a SWEEP_STEPS-step linear pipeline."""
    manifest = make_workspace(root / "sweep", "linear", SWEEP_STEPS, repo, uri)
    ws = Workspace.load(manifest)
    ws.run(options=RunOptions(jobs=1))  # a warm store: every step of variant 0 is cached
    synced = ws.sync()
    values = ",".join(str(v) for v in range(1, SWEEP_VARIANTS + 1))
    times: dict[str, float] = {}
    for label, step in (("last", name(SWEEP_STEPS - 1)), ("first", name(0))):
        variants = expand_overrides([f"{step}.x={values}"])
        with timer() as t:
            plan = make_plan(ws.manifest, synced.repos, variants=variants)
        times[label] = t()
        assert len(plan.variants) == SWEEP_VARIANTS
    with timer() as t:
        ws.run(options=RunOptions(overrides=(f"{name(0)}.x={values}",), dry_run=True))
    times["dry_run_api"] = t()
    return times


# --- DVC -------------------------------------------------------------------------


def ensure_dvc() -> Path | None:
    """The ``dvc`` executable of a separate venv, installed on first use; None if it fails."""
    dvc = DVC_VENV / "bin" / "dvc"
    try:
        if not dvc.exists():
            sh("uv", "venv", "-q", "--python", "3.11", DVC_VENV)
            sh("uv", "pip", "install", "-q", "--python", DVC_VENV / "bin" / "python", "dvc")
        sh(dvc, "version")  # compiles DVC's bytecode once, outside the timings
    except subprocess.CalledProcessError as exc:
        print(f"DVC install failed, skipping DVC: {exc.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return dvc


def dvc_yaml(shape: str, n: int, python: Path) -> str:
    lines = ["stages:"]
    for i in range(n):
        up = upstream(shape, i)
        inp = f"Path('out/{name(up)}')" if up is not None else "None"
        code = (
            "from pathlib import Path; import benchstep; "
            f"benchstep.step(x=${{{name(i)}.x}}, out=Path('out/{name(i)}'), inp={inp})"
        )
        deps = ["benchstep.py"] + ([f"out/{name(up)}"] if up is not None else [])
        lines += [
            f"  {name(i)}:",
            f'    cmd: {python} -c "{code}"',
            f"    deps: [{', '.join(deps)}]",
            f"    params: [{name(i)}.x]",
            f"    outs: [out/{name(i)}]",
        ]
    return "\n".join(lines) + "\n"


def write_params(folder: Path, n: int, last: int) -> None:
    values = [f"{name(i)}: {{x: {last if i == n - 1 else i}}}" for i in range(n)]
    (folder / "params.yaml").write_text("\n".join(values) + "\n")


def bench_dvc(root: Path, dvc: Path, shape: str, n: int, python: Path) -> dict[str, float]:
    """Seconds of ``dvc repro``: first, no-op, after the last stage's param changed."""
    folder = root / f"dvc-{shape}-{n}"
    folder.mkdir(parents=True)
    (folder / "benchstep.py").write_text(STEP_MODULE)
    (folder / "out").mkdir()
    (folder / "dvc.yaml").write_text(dvc_yaml(shape, n, python))
    write_params(folder, n, n - 1)
    sh("git", "init", "-q", "-b", "main", cwd=folder)
    sh(dvc, "init", "-q", cwd=folder)
    sh(dvc, "config", "core.analytics", "false", cwd=folder)
    times: dict[str, float] = {}
    for label in ("first", "noop", "param"):
        if label == "param":
            write_params(folder, n, -1)
        with timer() as t:
            sh(dvc, "repro", cwd=folder)
        times[label] = t()
    return times


# --- report ------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def markdown(cases: Sequence[Case], jobs: int) -> str:
    head = (
        "| shape | N | bare (d) | first run (a) | ratio a/d | first run CLI (a) | ratio | "
        "overhead/step | no-op API (b) | no-op CLI (b) | one-param API (c) | one-param CLI (c) |"
    )
    rows = [head, "|" + "---|" * 12]
    for c in cases:
        rows.append(
            f"| {c.shape} | {c.n} | {c.bare:.2f} s | {c.first:.2f} s | {c.ratio:.2f}x | "
            f"{seconds(c.first_cli)} | {c.ratio_cli} | {c.overhead_ms:.1f} ms | "
            f"{c.noop_api:.2f} s | {c.noop_cli:.2f} s | "
            f"{c.param_api:.2f} s | {seconds(c.param_cli)} |"
        )
    dvc_rows = [c for c in cases if c.dvc]
    if dvc_rows:
        rows += [
            "",
            "| shape | N | bare (d) | DVC first | DVC no-op | DVC one-param | "
            "ours first | ours no-op (CLI) | ours one-param (CLI) |",
            "|" + "---|" * 9,
        ]
        for c in dvc_rows:
            rows.append(
                f"| {c.shape} | {c.n} | {c.bare:.2f} s | {c.dvc['first']:.2f} s | "
                f"{c.dvc['noop']:.2f} s | {c.dvc['param']:.2f} s | {c.first:.2f} s | "
                f"{c.noop_cli:.2f} s | {seconds(c.param_cli)} |"
            )
    return "\n".join(rows) + f"\n\n(-j {jobs} for ours and for the bare fan-out)\n"


def startup_costs(python: Path, uri: str) -> dict[str, float]:
    """What a fresh CLI pays before doing anything: interpreter start and imports."""
    out: dict[str, float] = {}
    open_store = f"import mlflow; mlflow.MlflowClient({uri!r}).search_experiments()"
    for label, argv in (
        ("step env python -c pass", [str(python), "-c", "pass"]),
        ("mlrecipes python -c pass", [sys.executable, "-c", "pass"]),
        ("import mlrecipes.cli.main", [sys.executable, "-c", "import mlrecipes.cli.main"]),
        ("mlrecipes --help", [sys.executable, "-m", "mlrecipes.cli", "--help"]),
        ("import mlflow + open the sqlite store", [sys.executable, "-c", open_store]),
    ):
        best = float("inf")
        for _ in range(3):
            with timer() as t:
                subprocess.run(argv, check=True, capture_output=True)
            best = min(best, t())
        out[label] = best
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated N")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dvc", action="store_true", help="also time dvc repro")
    parser.add_argument("--dvc-max", type=int, default=100, help="largest N for DVC")
    parser.add_argument(
        "--cli-param-max", type=int, default=100, help="largest N for the one-param CLI rerun"
    )
    parser.add_argument(
        "--cli-first-max", type=int, default=100, help="largest N for the CLI first run"
    )
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument(
        "--no-compile-sources",
        action="store_true",
        help="leave mlrecipes' own sources without bytecode (a dev checkout's cost)",
    )
    return parser.parse_args()


def compile_sources() -> None:
    """Bytecode for mlrecipes' own sources, as the README's install gives the tool.

    ``uv tool install --compile-bytecode`` compiles every module of the installed
    tool; ``uv sync --compile-bytecode`` compiles the dev checkout's dependencies
    but not its editable packages, which a process then compiles from source each
    time when ``PYTHONDONTWRITEBYTECODE`` is set (0.1-0.3 s of every CLI call).
    """
    import compileall

    for src in sorted((Path(__file__).resolve().parents[1] / "packages").glob("*/src")):
        compileall.compile_dir(src, quiet=1)


def warm_up(root: Path, repo: Path, uri: str) -> dict[str, float]:
    """Create the shared MLflow store and warm the page cache; time the one-time costs."""
    manifest = make_workspace(root / "warmup", "linear", 2, repo, uri)
    ws = Workspace.load(manifest)
    with timer() as sync:
        ws.sync()
    with timer() as first:
        ws.run(options=RunOptions(jobs=1))
    return {
        "sync (checkout + env build)": sync(),
        "2-step warm-up run (imports MLflow, creates its store)": first(),
    }


def main() -> None:
    args = parse_args()
    if not args.no_compile_sources:
        compile_sources()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    dvc = ensure_dvc() if args.dvc else None
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        os.environ["MLRECIPES_CACHE_DIR"] = str(root / "cache")
        repo = make_step_repo(root / "repo")
        uri = f"sqlite:///{root / 'mlflow.db'}"
        once = warm_up(root, repo, uri)
        python = Workspace.load(root / "warmup" / "workspace.yaml").sync().repos["bench"].env.python
        cases: list[Case] = []
        for n in sizes:
            for shape in shapes:
                case = bench_case(
                    root, shape, n, repo, uri, args.jobs, args.cli_param_max, args.cli_first_max
                )
                if dvc is not None and n <= args.dvc_max:
                    case.dvc = bench_dvc(root, dvc, shape, n, python)
                print(
                    f"done {shape} N={n}: first {case.first:.2f}s bare {case.bare:.2f}s", flush=True
                )
                cases.append(case)
        sweep = {} if args.no_sweep else bench_sweep(root, repo, uri)
        print()
        print(markdown(cases, args.jobs))
        for label, took in {**once, **startup_costs(python, uri)}.items():
            print(f"- {label}: {took:.3f} s")
        for label, took in sweep.items():
            print(f"- plan {SWEEP_VARIANTS} variants x {SWEEP_STEPS} steps, {label}: {took:.3f} s")
        stop_warm_trackers(root)


def stop_warm_trackers(root: Path) -> None:
    """The warm trackers the workspaces under ``root`` started end with the benchmark."""
    from mlrecipes.core.paths import WorkspacePaths
    from mlrecipes.core.tracking import warm

    for folder in root.iterdir():
        if (folder / "workspace.yaml").is_file():
            warm.stop(WorkspacePaths(folder.resolve()).tracker_socket)


if __name__ == "__main__":
    main()
