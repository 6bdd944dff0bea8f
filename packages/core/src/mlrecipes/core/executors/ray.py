"""The Ray executor: each step a Ray task that runs the step runner on a cluster node.

The task (:func:`mlrecipes.core.executors._ray_node.run_step`) starts the
same subprocess as :class:`~mlrecipes.core.executors.local.LocalExecutor`:
the step's environment's interpreter running the runner, in the step's
checkout, with its output in the step's log. So every node must see the
workspace folder (checkouts, environments, store) at the same path; a node
that does not fails the step with a message saying so. MLflow stays on the
driver: the task only gets ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` in
its environment, as locally.

Ray is imported lazily: ``import mlrecipes.core`` never imports it, and
without it :class:`RayExecutor` raises a :class:`UserError` with the install
command. Each task asks Ray for the step's ``resources`` (one CPU by
default) and is never retried: a step that crashed its worker has failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlrecipes.core.errors import UserError
from mlrecipes.core.executors import _ray_node
from mlrecipes.core.executors.base import Outcome, read_outcome
from mlrecipes.core.executors.runner import build_spec, runner_path
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.install import install_command
from mlrecipes.core.manifest.model import Resources


def install_hint() -> str:
    """How to add the Ray extra to this install (a command that works on a fresh machine)."""
    return (
        f"install the Ray extra: `{install_command('ray')}` "
        "(in a project environment: `uv pip install 'mlrecipes-core[ray]'`)"
    )


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`UserError` telling how to install it."""
    # Under `uv run`, Ray (>= 2.43) by default ships the current folder to the
    # workers as a runtime env and starts them with `uv run` there: steps bring
    # their own environments and the workspace is shared, so turn that off.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError as exc:
        raise UserError(
            "the Ray executor needs Ray, which is not installed", hint=install_hint()
        ) from exc
    with contextlib.suppress(Exception):  # imported before us: the flag was already read
        ray._private.ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
    return ray


def ray_options(resources: Resources | None) -> dict[str, Any]:
    """``.options()`` of a step's task: its resources, one CPU when unset, no retries."""
    res = resources or Resources()
    options: dict[str, Any] = {
        "num_cpus": 1 if res.cpus is None else res.cpus,
        "max_retries": 0,
        "retry_exceptions": False,
    }
    if res.gpus is not None:
        options["num_gpus"] = res.gpus
    if res.memory is not None:
        options["memory"] = res.memory
    if res.custom:
        options["resources"] = dict(res.custom)
    return options


class KeyedTasks(Protocol):
    """Tasks that carry keys, not paths (Ray's ``store`` mode; built by the team store layer).

    ``node_function`` runs on the node with what :meth:`job` returns and replies
    as :func:`._ray_node.launch` does; :meth:`collect` brings a successful
    step's outputs into its temp entry on the driver (raising with a one-line,
    credential-free message).
    """

    @property
    def node_function(self) -> Callable[[Any], dict[str, Any]]: ...

    def job(self, task: StepTask, *, runner_source: str, grace: float) -> Any: ...

    def collect(self, reply: dict[str, Any], tmp_entry: Path) -> None: ...


@dataclass(eq=False)
class _Job:
    task: StepTask
    log_path: Path
    tmp_entry: Path
    ref: Any = None
    cancelled: bool = False
    forced: bool = False


class RayExecutor:
    """Runs steps as Ray tasks on the cluster at ``address``.

    ``address`` goes to ``ray.init``: ``None`` uses ``RAY_ADDRESS`` or a
    cluster already running on this machine, else starts a local one;
    ``"auto"`` requires a running cluster; ``"host:port"`` connects to that
    one. A process already connected to Ray (``ray.is_initialized()``) keeps
    its connection. ``resources_of`` gives each task's resources; ``grace``
    is how long a cancelled step may take to exit after SIGTERM before it and
    its Ray worker are killed.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        resources_of: Callable[[StepTask], Resources | None] | None = None,
        grace: float = 5.0,
        store: KeyedTasks | None = None,
    ) -> None:
        self._ray = import_ray()
        self._owns_connection = _connect(self._ray, address)
        self._resources_of = resources_of or (lambda task: None)
        self._grace = grace
        self._lock = threading.Lock()
        self._jobs: dict[int, _Job] = {}
        self._runner_source = runner_path().read_text(encoding="utf-8")
        # Shipped by value: a node needs Ray and the workspace, not mlrecipes.
        self._ray.cloudpickle.register_pickle_by_value(_ray_node)
        self._remote = self._ray.remote(_ray_node.run_step)
        # `store` mode: the node needs mlrecipes (it checks out, builds, fetches,
        # publishes), so its task function is imported there, not shipped.
        self._store = store
        self._remote_store = self._ray.remote(store.node_function) if store else None
        # Collecting a node's outputs downloads them: not on Ray's callback thread.
        self._pool = (
            ThreadPoolExecutor(4, thread_name_prefix="mlrecipes-collect") if store else None
        )
        self._closed = False

    def submit(self, task: StepTask, *, tmp_entry: Path, log_path: Path) -> Future[Outcome]:
        """Submit ``task`` as a Ray task; the future resolves when it has ended."""
        options = ray_options(self._resources_of(task))
        options["name"] = f"mlrecipes:{task.display}"
        if self._store is not None and self._remote_store is not None:
            job_spec = self._store.job(task, runner_source=self._runner_source, grace=self._grace)
            return self._start(self._remote_store, options, job_spec, task, tmp_entry, log_path)
        result_path = log_path.with_suffix(".result.json")
        payload = {
            "python": str(task.python),
            "cwd": str(task.cwd),
            "tmp_entry": str(tmp_entry),
            "log_path": str(log_path),
            "spec_path": str(log_path.with_suffix(".spec.json")),
            "spec": build_spec(task, entry=tmp_entry, result=result_path),
            "env": dict(task.env),
            "runner_source": self._runner_source,
            "grace": self._grace,
        }
        return self._start(self._remote, options, payload, task, tmp_entry, log_path)

    def _start(
        self,
        remote: Any,
        options: dict[str, Any],
        payload: Any,
        task: StepTask,
        tmp_entry: Path,
        log_path: Path,
    ) -> Future[Outcome]:
        job = _Job(task, log_path, tmp_entry)
        future: Future[Outcome] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            job.ref = remote.options(**options).remote(payload)
            self._jobs[id(job)] = job
        pool = self._pool

        def done(ref_future: Future[Any]) -> None:
            if pool is None:
                self._resolve(job, ref_future, future)
            else:
                pool.submit(self._resolve, job, ref_future, future)

        job.ref.future().add_done_callback(done)
        return future

    def cancel_all(self) -> None:
        """Cancel every unfinished task: gracefully at first (its step gets SIGTERM),
        by force after the grace period or at a second call."""
        with self._lock:
            jobs = list(self._jobs.values())
            escalate = [job for job in jobs if job.cancelled]
            for job in jobs:
                job.cancelled = True
        for job in jobs:
            self._cancel(job, force=job in escalate)
        if len(escalate) < len(jobs):
            # The node stops the step within the grace period; past it (plus
            # a margin for the node to report), the worker is killed.
            timer = threading.Timer(self._grace + 2.0, self._force, args=(jobs,))
            timer.daemon = True
            timer.start()

    def close(self) -> None:
        """Cancel what still runs, wait for it, and disconnect if we connected."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            refs = [job.ref for job in self._jobs.values()]
        if refs:
            self.cancel_all()
            with contextlib.suppress(Exception):
                self._ray.wait(refs, num_returns=len(refs), timeout=self._grace + 10.0)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._owns_connection:
            self._ray.shutdown()

    def _force(self, jobs: list[_Job]) -> None:
        for job in jobs:
            self._cancel(job, force=True)

    def _cancel(self, job: _Job, *, force: bool) -> None:
        with self._lock:
            if id(job) not in self._jobs or (job.forced and force):
                return
            job.forced = job.forced or force
        with contextlib.suppress(Exception):  # a task that just finished cannot be cancelled
            self._ray.cancel(job.ref, force=force)

    def _resolve(self, job: _Job, done: Future[Any], future: Future[Outcome]) -> None:
        """Turn a finished Ray task into the job's outcome (never raises)."""
        with self._lock:
            self._jobs.pop(id(job), None)
        try:
            outcome = self._outcome(job, done)
        except Exception as exc:  # the future must not raise: report, don't lose the step
            outcome = Outcome("failed", error=f"internal error in the Ray executor: {exc!r}")
        future.set_result(outcome)

    def _outcome(self, job: _Job, done: Future[Any]) -> Outcome:
        exc = done.exception()
        if exc is not None:
            if job.cancelled:
                return Outcome("killed", error="cancelled")
            return Outcome("failed", error=f"the Ray task of the step failed: {exc}")
        reply: dict[str, Any] = done.result()
        if "error" in reply:
            return Outcome("failed", error=str(reply["error"]))
        _keep_log(job.log_path, reply.get("log_tail", ""))
        outcome = _read_reply(reply, job.log_path)
        if (job.cancelled or reply.get("killed")) and outcome.status != "ok":
            return Outcome("killed", error="cancelled")
        if outcome.status == "ok":
            job.log_path.with_suffix(".spec.json").unlink(missing_ok=True)
        if outcome.status == "ok" and self._store is not None:
            try:
                self._store.collect(reply, job.tmp_entry)
            except Exception as problem:
                why = f"its outputs could not be fetched from the team store: {problem}"
                return Outcome("failed", error=why)
        return outcome


def _connect(ray: Any, address: str | None) -> bool:
    """Connect to the cluster unless already connected; True if we connected.

    Ray's native GCS client writes its retries straight to file descriptor 2
    (fifteen-odd ``InvalidAuthToken`` lines against a cluster that wants a
    token): they go to a file while connecting, and decide the message.
    """
    if ray.is_initialized():
        return False
    use_token_if_available(ray)
    with _native_stderr() as captured:
        try:
            ray.init(
                address=address,
                logging_level=logging.WARNING,
                log_to_driver=False,  # steps log to their own files; keep the terminal ours
            )
        except Exception as exc:
            raise connect_error(address, exc, captured()) from exc
    return True


AUTH_HINT = (
    "set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on its head node) "
    "or put it in ~/.ray/auth_token"
)


def connect_error(address: str | None, exc: BaseException, native: str) -> UserError:
    """One line for a failed ``ray.init``: an authentication failure named as such."""
    where = f" at {address}" if address else ""
    if "InvalidAuthToken" in native or "Unauthenticated" in native or _is_auth(exc):
        given = "no token" if _token_source() is None else f"the token from {_token_source()}"
        return UserError(
            f"the Ray cluster{where} refused the connection: it uses token authentication "
            f"and {given} was not accepted",
            hint=AUTH_HINT,
        )
    return UserError(
        f"cannot connect to the Ray cluster{where}: {exc}",
        hint="start one with `ray start --head`, or pass its address with "
        "`ray_address` (or `executor: {kind: ray, address: ...}` in workspace.yaml)",
    )


def _is_auth(exc: BaseException) -> bool:
    return type(exc).__name__ == "AuthenticationError"


def _token_source() -> str | None:
    """Where Ray would read a token from: the variables it reads, then its default file."""
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        if os.environ.get(name):
            return name
    default = Path.home() / ".ray" / "auth_token"
    return str(default).replace(str(Path.home()), "~", 1) if default.is_file() else None


def use_token_if_available(ray: Any) -> None:
    """Turn Ray's token mode on when a token is at hand and ``RAY_AUTH_MODE`` is unset.

    A cluster started while ``~/.ray/auth_token`` exists has token authentication on,
    and Ray's own ``ray.init()`` sends the token only when it found that cluster by
    itself (no address). Sending it to a cluster without authentication is harmless.
    """
    if os.environ.get("RAY_AUTH_MODE") is not None or _token_source() is None:
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    with contextlib.suppress(Exception):  # Ray imported before: refresh its cached config
        ray._raylet.Config.initialize("")


@contextlib.contextmanager
def _native_stderr() -> Iterator[Callable[[], str]]:
    """File descriptor 2 into a temp file; yields a reader of what was written."""
    with tempfile.TemporaryFile(prefix="mlrecipes-ray-") as sink:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to keep off it
            yield lambda: ""
            return
        os.dup2(sink.fileno(), 2)

        def read() -> str:
            sink.seek(0)
            return sink.read().decode("utf-8", errors="replace")

        try:
            yield read
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _read_reply(reply: dict[str, Any], log_path: Path) -> Outcome:
    """The node's result text and exit code, read as the local executor reads them."""
    with tempfile.TemporaryDirectory(prefix="mlrecipes-ray-") as tmp:
        result_path = Path(tmp) / "result.json"
        if reply.get("result") is not None:
            result_path.write_text(str(reply["result"]), encoding="utf-8")
        return read_outcome(result_path, returncode=int(reply["returncode"]), log_path=log_path)


def _keep_log(log_path: Path, tail: str) -> None:
    """Write the node's log tail where the driver expects the log, if it cannot see it."""
    if log_path.exists() or not tail:
        return
    with contextlib.suppress(OSError):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(tail, encoding="utf-8")


__all__ = ["KeyedTasks", "RayExecutor", "import_ray", "install_hint", "ray_options"]
