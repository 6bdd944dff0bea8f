"""The local executor: each step a subprocess of its environment's interpreter.

Each task runs as ``[task.python, -c, PRELUDE, our_pid, step_runner.py, spec.json]``
in ``task.cwd``, stdout and stderr to its log, in its own process group: Ctrl-C
in the terminal reaches only mlrecipes, which then stops the steps itself
(SIGTERM to each group, SIGKILL after a grace period), so nothing outlives a
run. When mlrecipes itself dies without a chance to clean up (``kill -9``, the
OOM killer), the prelude has asked the kernel (Linux ``PR_SET_PDEATHSIG``, as
the Ray executor's nodes do) to SIGKILL the step, so no orphan keeps running
and writing. One pool thread per running step blocks in ``wait()``: no polling.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrecipes.core.codedeps import hash_observed

# One builder of a step process's environment for both executors: the Ray node
# module is shipped to nodes by value, so it holds it (stdlib only).
from mlrecipes.core.executors._ray_node import PRELUDE, subprocess_env
from mlrecipes.core.executors.base import Outcome, read_outcome
from mlrecipes.core.executors.groups import MARKER_VAR, new_marker, record_group
from mlrecipes.core.executors.runner import build_spec, runner_path, write_spec
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.paths import runner_cache_dir

__all__ = ["LocalExecutor", "dropped_search_path", "subprocess_env"]


def dropped_search_path() -> str | None:
    """``PYTHONPATH`` of the caller when set: steps never see it (each step imports from
    its repo's environment only), so callers can say so."""
    return os.environ.get("PYTHONPATH") or None


_COMPILE = (
    "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)"
)


class _RunnerCache:
    """The runner compiled once per interpreter.

    Python never caches the bytecode of a script it runs; compiling the
    runner costs about as much as a third of an interpreter start. A ``.pyc``
    runs directly (``python step_runner.pyc``) when its magic number matches the
    interpreter, so each is keyed by the runner's source and the resolved
    interpreter binary (path, inode, mtime). Any failure falls back to the
    source file.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.source = runner_path()
        self.source_hash = hashlib.sha256(self.source.read_bytes()).hexdigest()[:16]
        self.compiled: dict[Path, Path] = {}
        self.lock = threading.Lock()

    def script(self, python: Path) -> Path:
        with self.lock:
            if python not in self.compiled:
                self.compiled[python] = self._compile(python)
            return self.compiled[python]

    def _compile(self, python: Path) -> Path:
        try:
            real = python.resolve()
            st = real.stat()
        except OSError:
            return self.source  # let the launch report the missing interpreter
        key = hashlib.sha256(f"{real}\0{st.st_ino}\0{st.st_mtime_ns}".encode()).hexdigest()[:24]
        target = self.cache_dir / self.source_hash / f"{key}.pyc"
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        argv = [str(python), "-c", _COMPILE, str(self.source), str(tmp)]
        done = subprocess.run(argv, capture_output=True, check=False, timeout=60)
        if done.returncode != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            return self.source
        tmp.replace(target)
        return target


@dataclass(eq=False)
class _Job:
    task: StepTask
    tmp_entry: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    cancelled: bool = False
    terminated: bool = False
    done: bool = False


class LocalExecutor:
    """Runs at most ``jobs`` steps at once as local subprocesses.

    ``grace`` is how long a cancelled step may take to exit after SIGTERM
    before SIGKILL; ``runner_cache`` holds the runner compiled per
    interpreter (default :func:`~mlrecipes.core.paths.runner_cache_dir`).
    """

    def __init__(
        self, jobs: int = 1, *, grace: float = 5.0, runner_cache: Path | None = None
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mlrecipes-step")
        self._grace = grace
        self._lock = threading.Lock()
        self._jobs: set[_Job] = set()
        self._runner = _RunnerCache(runner_cache or runner_cache_dir())

    def submit(self, task: StepTask, *, tmp_entry: Path, log_path: Path) -> Future[Outcome]:
        """Queue ``task``; the future resolves when its process has ended."""
        job = _Job(task, tmp_entry, log_path)
        with self._lock:
            self._jobs.add(job)
        return self._pool.submit(self._run_job, job)

    def cancel_all(self) -> None:
        """SIGTERM every running step's group (SIGKILL after the grace period, or at a
        second call); queued steps resolve ``killed`` without starting."""
        with self._lock:
            jobs = [job for job in self._jobs if not job.done]
            for job in jobs:
                job.cancelled = True
        escalate = [job for job in jobs if job.terminated]
        for job in jobs:
            self._signal(job, signal.SIGKILL if job.terminated else signal.SIGTERM)
        if len(escalate) < len(jobs):
            timer = threading.Timer(self._grace, self._kill, args=(jobs,))
            timer.daemon = True
            timer.start()

    def close(self) -> None:
        """Cancel what still runs and wait for the pool threads."""
        with self._lock:
            busy = any(not job.done for job in self._jobs)
        if busy:
            self.cancel_all()
        self._pool.shutdown(wait=True)

    def _kill(self, jobs: list[_Job]) -> None:
        for job in jobs:
            self._signal(job, signal.SIGKILL)

    def _signal(self, job: _Job, signum: int) -> None:
        with self._lock:
            if job.proc is None or job.done:
                return
            job.terminated = True
            # The group id is the child's pid (process_group=0); it is still
            # ours because the job is not done, so the pid has not been reused.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.proc.pid, signum)

    def _run_job(self, job: _Job) -> Outcome:
        try:
            return self._run_process(job)
        except OSError as exc:
            return Outcome("failed", error=f"cannot start {job.task.python}: {exc}")
        except Exception as exc:  # the future must not raise: report, don't lose the step
            return Outcome("failed", error=f"internal error running the step: {exc!r}")
        finally:
            with self._lock:
                job.done = True
                self._jobs.discard(job)

    def _run_process(self, job: _Job) -> Outcome:
        task = job.task
        spec_path = job.log_path.with_suffix(".spec.json")
        result_path = job.log_path.with_suffix(".result.json")
        observed = job.log_path.with_suffix(".observed.json")
        spec = build_spec(task, entry=job.tmp_entry, result=result_path, observed=observed)
        write_spec(spec_path, spec)
        try:  # the runner removes the spec (it holds secrets) once read; this, if it never ran
            outcome = self._start_and_wait(job, spec_path, result_path)
        finally:
            spec_path.unlink(missing_ok=True)
        if outcome.status == "ok":  # hashed here, after the step: never on its time
            outcome = dataclasses.replace(outcome, code=_code_record(task, observed))
        observed.unlink(missing_ok=True)
        return outcome

    def _start_and_wait(self, job: _Job, spec_path: Path, result_path: Path) -> Outcome:
        task = job.task
        with self._lock:
            if job.cancelled:
                return Outcome("killed", error="cancelled before it started")
        with job.log_path.open("wb") as log:
            script = str(self._runner.script(task.python))
            # The pool thread that starts the step outlives it (it waits for it), so
            # the kernel's "parent died" signal only fires when the process dies.
            marker = new_marker()  # what the next command checks before ending the group
            proc = subprocess.Popen(
                [str(task.python), "-c", PRELUDE, str(os.getpid()), script, str(spec_path)],
                cwd=task.cwd,
                env=subprocess_env(task.python, {**task.env, MARKER_VAR: marker}),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
            with self._lock:
                job.proc = proc
                cancelled = job.cancelled
            if cancelled:  # cancel_all ran between our check and the start
                self._signal(job, signal.SIGTERM)
            record = record_group(job.log_path, proc.pid, marker)
            try:
                returncode = proc.wait()
            finally:
                record.unlink(missing_ok=True)
        outcome = read_outcome(result_path, returncode=returncode, log_path=job.log_path)
        if job.cancelled and outcome.status != "ok":
            outcome = Outcome("killed", error="cancelled")
        result_path.unlink(missing_ok=True)
        return outcome


def _code_record(task: StepTask, observed: Path) -> dict[str, Any] | None:
    """What the step read, hashed here after it ended; None when nothing usable was
    recorded (the entry then falls back to the tree rule)."""
    if not task.code_roots:
        return None
    try:
        data = json.loads(observed.read_text(encoding="utf-8"))
        return hash_observed(data, task.code_roots).to_json()
    except (OSError, ValueError):
        return None
