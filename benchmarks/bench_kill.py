"""kill -9 of ``mlrecipes run`` at random moments: is anything lost, duplicated or left RUNNING?

    PYTHONDONTWRITEBYTECODE=1 uv run python benchmarks/bench_kill.py \
        [--kills 20] [--seed 20] [--server] [--steps 6] [--work 0.3] [--size 500000]

Issue 20's target: after kill -9s of ``run`` at 20 random moments (during steps,
during logging, during upload), once the next command ran, 0 events lost, 0 runs
duplicated, 0 runs left RUNNING.

The workspace is ``bench_team_store.py``'s: a linear pipeline of ``--steps``
steps in one stdlib-only repo, each burning ``--work`` s of CPU and writing
``--size`` bytes. Its MLflow store is a local SQLite file, or with ``--server``
an ``mlflow server --serve-artifacts`` on 127.0.0.1 (the team store is then on:
every executed step's outputs are uploaded as artifacts of its run).

Each attempt starts ``python -m mlrecipes.cli -v run -S s00.x=V`` in its own
session (after a kill, half the time the same ``V`` again: that run resumes
the killed one, whose finished steps are store hits; else a new ``V``) and
sends SIGKILL to that process only, at a moment drawn from a seeded RNG:
between 0 and the duration of an unkilled run of the same mode; for ``wait``
and ``local`` runs, half the time (``--tail-share``) between 0 and 3 s after
the last step ended (while the command logs, waits for MLflow or uploads);
and for a fifth of all kills (``--stored-share``) within 2 ms of a new store
entry appearing (a step's result kept: its run's end must not be lost).
Modes rotate: ``warm`` (the default: the command hands its events to the
warm tracker), ``wait`` (``--wait``: it returns once MLflow holds everything,
so a kill lands while it waits for delivery and uploads) and ``local``
(``MLRECIPES_TRACKER_IDLE=0``: the command delivers and uploads in its own
process). An attempt that ends before its moment is not a kill and is
retried with the next moment, until ``--kills`` kills landed.

Afterwards one plain ``run`` and ``mlrecipes runs push``, then the MLflow store
is read:

- lost: a complete store entry without exactly one FINISHED step run of its
  fingerprint holding the entry's metrics; a run whose outbox id is mapped in
  ``outbox/ids`` but missing from MLflow; events still waiting in the outbox;
- duplicated: two MLflow runs with the same ``mlrecipes.local_id``;
- RUNNING: runs not in a terminal status.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers, benchmarks.*

from benchmarks.bench_team_store import make_repo, manifest_text
from tests.helpers.mlflow_server import MlflowServer, start_mlflow_server, stop_mlflow_server

from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.store.local import MARKER, Store
from mlrecipes.core.tracking import warm
from mlrecipes.core.tracking.base import (
    KIND_STEP,
    TAG_FINGERPRINT,
    TAG_KIND,
    TAG_LOCAL_ID,
    TERMINAL_STATUSES,
    step_metric_key,
)
from mlrecipes.core.tracking.outbox import RunIds, pending

MODES = ("warm", "wait", "local")
EXPERIMENT = "killbench"
WARM_IDLE = "120"
TAIL = 3.0
"""Kills anchored at the last step's end land up to this many seconds after it."""
STORED = 0.002
"""Kills anchored at a new store entry land up to this many seconds after it appears."""


@dataclass
class Attempt:
    number: int
    mode: str
    value: int
    moment: float
    anchor: str
    killed: bool
    phase: str
    tracker_alive: bool


def command(manifest: Path, mode: str, value: int) -> tuple[list[str], dict[str, str]]:
    argv = [sys.executable, "-m", "mlrecipes.cli", "-v", "run", "-f", str(manifest), "-j", "2"]
    argv += ["-S", f"s00.x={value}"] + (["--wait"] if mode == "wait" else [])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CI", None)
    env["MLRECIPES_TRACKER_IDLE"] = "0" if mode == "local" else WARM_IDLE
    return argv, env


def run_to_end(manifest: Path, mode: str, value: int, log: Path) -> float:
    """Seconds of an unkilled run; raises if it fails."""
    argv, env = command(manifest, mode, value)
    start = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): see {log}")
    return time.perf_counter() - start


def phase_of(log: Path) -> str:
    """What the command was doing when it died, from its ``-v`` output."""
    lines = log.read_text(errors="replace").splitlines()
    plan = next((line for line in lines if line.startswith("plan:")), None)
    if plan is None:
        return "before the plan (load, sync)"
    to_run = int(plan.split()[1])
    started = sum(1 for line in lines if line.strip().startswith("start "))
    ended = sum(1 for line in lines if " ok " in line or " failed " in line)
    if started > ended:
        return f"during a step ({ended}/{to_run} done)"
    if ended < to_run:
        return f"between steps ({ended}/{to_run} done)"
    return "after the steps (logging, delivery, uploads)"


def steps_done(log: Path) -> bool:
    """True once the ``-v`` output shows every step of the plan ended."""
    lines = log.read_text(errors="replace").splitlines()
    plan = next((line for line in lines if line.startswith("plan:")), None)
    if plan is None:
        return False
    ended = sum(1 for line in lines if " ok " in line or " failed " in line)
    return ended >= int(plan.split()[1])


def wait_for_steps(proc: subprocess.Popen[bytes], log: Path) -> bool:
    """Until the command's steps all ended (True) or the command did (False)."""
    while proc.poll() is None:
        if steps_done(log):
            return True
        time.sleep(0.02)
    return False


def entries(store: Path) -> set[Path]:
    return set(store.glob(f"*/*/{MARKER}"))


def wait_for_entry(proc: subprocess.Popen[bytes], store: Path, before: set[Path]) -> bool:
    """Until a new store entry is published (True) or the command ended (False)."""
    while proc.poll() is None:
        if entries(store) - before:
            return True
        time.sleep(0.001)  # tight: the end of a step is told within milliseconds of this
    return False


def attempt(
    manifest: Path, logs: Path, number: int, mode: str, value: int, moment: float, anchor: str
) -> Attempt:
    """One run, killed ``moment`` s after its start, or after its last step (``anchor``)."""
    argv, env = command(manifest, mode, value)
    log = logs / f"attempt-{number:02d}.log"
    store = WorkspacePaths(manifest.parent.resolve()).store
    stored = entries(store)
    with log.open("w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        if anchor == "steps end" and wait_for_steps(proc, log):
            start = time.monotonic()
        if anchor == "entry stored" and wait_for_entry(proc, store, stored):
            start = time.monotonic()
        try:
            proc.wait(max(0.0, moment - (time.monotonic() - start)))
            killed = False
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)  # the `run` process only, not its session
            proc.wait()
            killed = True
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"attempt {number} failed ({proc.returncode}): see {log}")
    phase = phase_of(log) if killed else "ended before the kill"
    alive = warm.status(WorkspacePaths(manifest.parent.resolve()).tracker_socket) is not None
    return Attempt(number, mode, value, moment, anchor, killed, phase, alive)


def cli(manifest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mlrecipes.cli", *args, "-f", str(manifest)]
    env = {**os.environ, "MLRECIPES_TRACKER_IDLE": WARM_IDLE}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


# --- the count ---------------------------------------------------------------------


def mlflow_runs(uri: str) -> list[Any]:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    return list(
        client.search_runs(
            [experiment.experiment_id], run_view_type=ViewType.ALL, max_results=50_000
        )
    )


def store_entries(store_root: Path) -> list[tuple[str, str, dict[str, float]]]:
    """(step, fingerprint, metrics) of every complete entry."""
    store = Store(store_root)
    found = []
    for step_dir in sorted(p for p in store_root.iterdir() if p.is_dir()):
        if step_dir.name.startswith("."):
            continue
        for entry in sorted(p for p in step_dir.iterdir() if not p.name.startswith(".")):
            record = store.read_record(step_dir.name, entry.name)
            if record is not None:
                found.append((step_dir.name, entry.name, dict(record.metrics)))
    return found


def mapped(outbox: Path) -> list[tuple[str, str]]:
    """Every (local id, MLflow id) pair of ``outbox/ids``."""
    ids = RunIds(outbox)
    try:
        lines = ids.path.read_text().split("\n")
    except FileNotFoundError:
        return []
    pairs = [line.split() for line in lines]
    return [(pair[0], pair[1]) for pair in pairs if len(pair) == 2]


def count(ws: Path, uri: str) -> dict[str, Any]:
    paths = WorkspacePaths(ws.resolve())
    runs = mlflow_runs(uri)
    by_local = Counter(r.data.tags.get(TAG_LOCAL_ID) for r in runs)
    duplicated = sum(n - 1 for local, n in by_local.items() if local and n > 1)
    no_local_id = by_local.get(None, 0)
    running = [r.info.run_id for r in runs if r.info.status not in TERMINAL_STATUSES]
    steps = [r for r in runs if r.data.tags.get(TAG_KIND) == KIND_STEP]
    lost: list[str] = []
    entries = store_entries(paths.store)
    for step, fp, metrics in entries:
        finished = [
            r
            for r in steps
            if r.data.tags.get(TAG_FINGERPRINT) == fp and r.info.status == "FINISHED"
        ]
        keys = {step_metric_key(step, k) for k in metrics}
        whole = [r for r in finished if keys <= set(r.data.metrics)]
        if len(whole) != 1:
            lost.append(f"{step}@{fp[:10]}: {len(finished)} FINISHED runs, {len(whole)} whole")
    known = {r.info.run_id for r in runs}
    missing = [local for local, run_id in mapped(paths.outbox) if run_id not in known]
    waiting = pending(paths.outbox)
    return {
        "runs": len(runs),
        "step runs": len(steps),
        "store entries": len(entries),
        "killed runs": sum(1 for r in runs if r.info.status == "KILLED"),
        "lost": lost,
        "mapped but missing": missing,
        "waiting": waiting.runs,
        "duplicated": duplicated,
        "without local id": no_local_id,
        "running": running,
    }


# --- main --------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--server", action="store_true", help="an mlflow server, team store on")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--work", type=float, default=0.3, help="CPU seconds per step")
    parser.add_argument("--size", type=int, default=500_000, help="bytes written per step")
    parser.add_argument(
        "--tail-share",
        type=float,
        default=0.5,
        help="share of wait/local kills timed from the last step's end instead of the start",
    )
    parser.add_argument(
        "--stored-share",
        type=float,
        default=0.2,
        help="share of kills timed from the moment a new store entry appears",
    )
    parser.add_argument("--keep", action="store_true", help="print the temp folder, keep it")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(f"seed {args.seed}; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE')}")
    tmp = tempfile.mkdtemp(prefix="bench-kill-")
    root = Path(tmp)
    os.environ["MLRECIPES_CACHE_DIR"] = str(root / "cache")
    server: MlflowServer | None = None
    ws = root / "ws"
    try:
        if args.server:
            server = start_mlflow_server(root / "server")
        uri = server.url if server else f"sqlite:///{root / 'mlflow.db'}"
        repo = make_repo(root)
        ws.mkdir()
        manifest = ws / "workspace.yaml"
        manifest.write_text(manifest_text(uri, repo, args.steps, args.size, args.work, EXPERIMENT))
        attempts, loads = kill_series(manifest, root / "logs", args)
        final = run_to_end(manifest, "warm", attempts[-1].value, root / "logs" / "final.log")
        push = cli(manifest, "runs", "push")
        result = count(ws, uri)
    finally:
        warm.stop(WorkspacePaths(ws.resolve()).tracker_socket)
        if server is not None:
            stop_mlflow_server(server)
    report(attempts, loads, final, push, result, args, uri)
    if args.keep:
        print(f"kept {root}")
    else:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def kill_series(
    manifest: Path, logs: Path, args: argparse.Namespace
) -> tuple[list[Attempt], list[float]]:
    logs.mkdir()
    rng = random.Random(args.seed)
    run_to_end(manifest, "warm", 0, logs / "sync.log")  # sync and environment: not timed
    spans = {mode: run_to_end(manifest, mode, -1 - i, logs / f"span-{mode}.log") for i, mode in
             enumerate(MODES)}  # fmt: skip
    print("unkilled run, all steps: " + ", ".join(f"{m} {s:.2f} s" for m, s in spans.items()))
    attempts: list[Attempt] = []
    loads: list[float] = []
    kills, value = 0, 1000
    while kills < args.kills and len(attempts) < 3 * args.kills:
        number = len(attempts)
        mode = MODES[kills % len(MODES)]
        anchor, span = "start", spans[mode]
        if rng.random() < args.stored_share:
            anchor, span = "entry stored", STORED  # right after a step's result is kept
        elif mode != "warm" and rng.random() < args.tail_share:
            anchor, span = "steps end", TAIL  # while it logs, waits for MLflow, uploads
        moment = round(rng.uniform(0.0, span), 3)
        found = attempt(manifest, logs, number, mode, value, moment, anchor)
        loads.append(os.getloadavg()[0])
        kills += found.killed
        # after a kill, half the time the same command again (it resumes the killed run)
        if not found.killed or rng.random() < 0.5:
            value += 1
        attempts.append(found)
        print(
            f"attempt {number:2d} {mode:5s} -S s00.x={found.value} {moment:6.3f} s after {anchor}: "
            f"{'KILLED ' + found.phase if found.killed else found.phase}; "
            f"warm tracker {'alive' if found.tracker_alive else 'none'}",
            flush=True,
        )
    return attempts, loads


def report(
    attempts: list[Attempt],
    loads: list[float],
    final: float,
    push: subprocess.CompletedProcess[str],
    result: dict[str, Any],
    args: argparse.Namespace,
    uri: str,
) -> None:
    kills = [a for a in attempts if a.killed]
    store = "mlflow server --serve-artifacts (team store on)" if args.server else "SQLite file"
    print()
    print(f"{len(kills)} kills in {len(attempts)} attempts, seed {args.seed}, store: {store}")
    print(f"load average during the kills: {min(loads):.1f}-{max(loads):.1f}")
    print(f"final run {final:.2f} s; runs push: exit {push.returncode} {push.stdout.strip()}")
    phases = Counter(a.phase.split(" (")[0] for a in kills)
    anchors = Counter(f"{a.mode} from {a.anchor}" for a in kills)
    print("kills by mode and anchor: " + "; ".join(f"{k}: {n}" for k, n in sorted(anchors.items())))
    print("kills by phase: " + "; ".join(f"{p}: {n}" for p, n in sorted(phases.items())))
    alive = sum(a.tracker_alive for a in kills if a.mode == "warm")
    print(f"warm tracker alive after a kill of a warm-mode run: {alive}/"
          f"{sum(a.mode == 'warm' for a in kills)}")  # fmt: skip
    print()
    print("| runs in MLflow | step runs | KILLED | store entries | lost | duplicated | RUNNING |")
    print("|---|---|---|---|---|---|---|")
    lost = len(result["lost"]) + len(result["mapped but missing"]) + result["waiting"]
    print(
        f"| {result['runs']} | {result['step runs']} | {result['killed runs']} | "
        f"{result['store entries']} | {lost} | {result['duplicated']} | {len(result['running'])} |"
    )
    for key in ("lost", "mapped but missing", "running"):
        for item in result[key]:
            print(f"  {key}: {item}")
    if result["waiting"] or result["without local id"]:
        print(f"  waiting in the outbox: {result['waiting']}; "
              f"runs without a local id: {result['without local id']}")  # fmt: skip


if __name__ == "__main__":
    main()
