"""The warm tracker: one process per workspace that keeps MLflow imported and its store open.

Importing MLflow and opening a store costs seconds; a rerun that changes one
parameter costs a fraction of that. So the process that delivers the outbox
(:mod:`.deliver`) outlives a command for a short idle while
(``MLRECIPES_TRACKER_IDLE`` seconds; 300 by default, 0 when ``CI`` is set;
``0`` turns it off) and the next command hands it work over a unix socket.

The choice, and what it learns from others:

- **A client/server split, not a lingering child** (Bazel's server, Gradle's
  daemon, ``dmypy``). A command finds the server by its socket in a known place
  (:attr:`WorkspacePaths.tracker_socket`), says hello with its version and
  falls back to delivering in its own process when the answer differs (and
  asks that server to stop, so the next command starts a matching one).
- **Detached for real** (wandb#5388: ``wandb-service`` left as a zombie that
  held a Slurm job; wandb#4929 and mlflow#20575: ``finish()``/``atexit`` joins
  that hang the exit). The server runs in a new session with stdin from
  ``/dev/null`` and stdout/stderr to its log file, no other descriptor
  inherited, so no pipe of the caller (a CI step, ``subprocess.run``) stays
  open because of it; no command ever joins it or waits on it to exit, and it
  ignores SIGINT/SIGHUP of the terminal it left. SIGTERM ends it at once: its
  state is on disk.
- **Nothing in memory that matters** (MLflow's async queue loses events on a
  kill). Every event is in the outbox before the server hears of it; the
  server only delivers. It can die at any moment, and so can a command.
- **Never holds what a command needs.** The server's own lock
  (``tracker.lock``) only keeps a second server from starting; the per-segment
  delivery lock is held while one segment is applied, and a command waits on
  the server, not on the lock.
- **Ends by itself**: after ``idle`` seconds without a request; a pass over the
  outbox runs every second meanwhile, so a server that was down gets its runs
  as soon as it is back.

Protocol: one JSON line per request and per answer. ``hello`` (version check),
``deliver`` (``segment``: which one, ``wait``: answer once delivered or failed,
``resolve``: a local run id whose MLflow id and step environment to return),
``status``, ``stop``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.tracking.log_redaction import redact_process_output

PROTOCOL = 1
DEFAULT_IDLE = 300.0
IDLE_ENV = "MLRECIPES_TRACKER_IDLE"
_PASS_EVERY = 1.0


def version() -> str:
    """What client and server must share: the protocol, this install and its Python."""
    return f"{PROTOCOL}:{Path(__file__).resolve().parents[1]}:{sys.executable}"


def idle_seconds(environ: dict[str, str] | None = None) -> float:
    """How long the warm tracker outlives a command; 0 turns it off."""
    env = os.environ if environ is None else environ
    value = env.get(IDLE_ENV)
    if value is not None and value.strip():
        try:
            return max(0.0, float(value))
        except ValueError:
            return DEFAULT_IDLE
    return 0.0 if env.get("CI") else DEFAULT_IDLE


# --- the client --------------------------------------------------------------------


class TrackerUnavailable(Exception):
    """No warm tracker answers (or one of another version); the caller delivers itself."""


@dataclass(frozen=True)
class WarmStatus:
    pid: int
    version: str
    idle: float
    pending_segments: int
    error: str | None


class WarmClient:
    """One connection to the warm tracker of a workspace."""

    def __init__(self, sock_path: Path, *, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(sock_path))
        except OSError as exc:
            self._sock.close()
            raise TrackerUnavailable(str(exc)) from None
        self._file = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def call(self, request: dict[str, Any], timeout: float | None = 5.0) -> dict[str, Any]:
        with self._lock:
            self._sock.settimeout(timeout)
            try:
                self._file.write(json.dumps(request).encode() + b"\n")
                self._file.flush()
                line = self._file.readline()
            except OSError as exc:
                raise TrackerUnavailable(str(exc)) from None
        if not line:
            raise TrackerUnavailable("the warm tracker closed the connection")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def hello(self) -> dict[str, Any]:
        answer = self.call({"op": "hello", "version": version()})
        if answer.get("version") != version():
            with contextlib.suppress(TrackerUnavailable):
                self.call({"op": "stop"})
            self.close()
            raise TrackerUnavailable(f"a warm tracker of another version ({answer.get('version')})")
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._sock.close()


def connect(sock_path: Path, *, idle: float | None = None) -> WarmClient:
    """A checked connection to the running warm tracker; :class:`TrackerUnavailable` if none."""
    client = WarmClient(sock_path)
    try:
        client.hello()
        if idle is not None:
            client.call({"op": "idle", "seconds": idle})
    except BaseException:
        client.close()
        raise
    return client


def spawn(paths: WorkspacePaths, idle: float) -> None:
    """Start a warm tracker, detached (see module doc); returns at once."""
    paths.tracker_log.parent.mkdir(parents=True, exist_ok=True)
    with paths.tracker_log.open("ab") as log, Path(os.devnull).open("rb") as null:
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(paths.root), str(idle)],
            stdin=null,
            stdout=log,
            stderr=log,
            close_fds=True,
            start_new_session=True,
            cwd=paths.state,
        )
    _SPAWNED.append(proc)


_SPAWNED: list[subprocess.Popen[bytes]] = []
"""Kept so that no ``Popen`` is collected while its server lives (a ResourceWarning)."""


def status(sock_path: Path) -> WarmStatus | None:
    """The running warm tracker, or None."""
    try:
        client = WarmClient(sock_path, timeout=2.0)
    except TrackerUnavailable:
        return None
    try:
        answer = client.call({"op": "status"})
    except (TrackerUnavailable, ValueError):
        return None
    finally:
        client.close()
    return WarmStatus(
        pid=int(answer["pid"]),
        version=str(answer["version"]),
        idle=float(answer["idle"]),
        pending_segments=int(answer["pending"]),
        error=answer.get("error"),
    )


def stop(sock_path: Path, timeout: float = 10.0) -> int | None:
    """Ask the running warm tracker to end; its pid once it has, or None if none ran."""
    found = status(sock_path)
    if found is None:
        return None
    with contextlib.suppress(TrackerUnavailable, ValueError):
        client = WarmClient(sock_path, timeout=2.0)
        try:
            client.call({"op": "stop"})
        finally:
            client.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(found.pid):
        time.sleep(0.02)
    return found.pid


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        for proc in _SPAWNED:
            if proc.pid == pid:
                return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


# --- the server --------------------------------------------------------------------


class _Server:
    """Delivers the outbox on one thread; answers clients on others."""

    def __init__(self, paths: WorkspacePaths, idle: float) -> None:
        from mlrecipes.core.tracking.deliver import Deliverer

        self.deliverer = Deliverer(paths.outbox)
        self.paths = paths
        self.outbox = paths.outbox
        self.idle = idle
        self.last_request = time.monotonic()
        self.cond = threading.Condition()
        self.generation = 0  # passes started
        self.completed = 0  # passes finished
        self.error: str | None = None
        self.stopping = False

    def request_pass(self) -> int:
        """Ask for a delivery pass; the number it will have once done."""
        with self.cond:
            self.last_request = time.monotonic()
            self.generation += 1
            self.cond.notify_all()
            return self.generation

    def wait_pass(self, wanted: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.completed >= wanted or self.stopping, timeout)

    def loop(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(
                    lambda: self.generation > self.completed or self.stopping, _PASS_EVERY
                )
                if self.stopping:
                    return
                if time.monotonic() - self.last_request > self.idle and not self._writing():
                    self.stopping = True
                    self.cond.notify_all()
                    return
                target = self.generation
            self._pass()
            with self.cond:
                self.completed = max(self.completed, target)
                self.cond.notify_all()

    def _writing(self) -> bool:
        """True while a command still writes a segment: it may need us any moment."""
        from mlrecipes.core.tracking.outbox import segments, writer_alive

        return any(writer_alive(segment) for segment in segments(self.outbox))

    def _pass(self) -> None:
        from mlrecipes.core.errors import TrackingError

        try:
            self.deliverer.deliver_all(lock_timeout=0)
            self.error = None
            self._refresh_summaries()
        except TrackingError as exc:
            if exc.message != self.error:  # once per new error, not once a second
                logging.getLogger(__name__).warning("delivery failed", exc_info=True)
            self.error = exc.message
        except Exception as exc:  # a bug: logged, the next pass tries again
            logging.getLogger(__name__).exception("delivery pass failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def _refresh_summaries(self) -> None:
        """Read the pipelines just ended into ``exp show``'s summaries, with MLflow at hand,
        so that ``exp show`` need not import it (see :mod:`.summaries`)."""
        from mlrecipes.core.tracking.experiments import refresh_summaries

        finished, self.deliverer.finished = self.deliverer.finished, set()
        for uri, experiment in sorted(finished):
            try:
                refresh_summaries(uri, experiment, self.paths.runs)
            except Exception:  # a cache: exp show reads MLflow itself when it is stale
                logging.getLogger(__name__).exception("refreshing run summaries failed")

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "hello":
            return {"ok": True, "version": version(), "pid": os.getpid()}
        if op == "idle":
            self.idle = float(request["seconds"])
            self.request_pass()
            return {"ok": True}
        if op == "status":
            from mlrecipes.core.tracking.outbox import segments

            return {
                "ok": True,
                "pid": os.getpid(),
                "version": version(),
                "idle": self.idle,
                "pending": len(segments(self.outbox)),
                "error": self.error,
            }
        if op == "stop":
            with self.cond:
                self.stopping = True
                self.cond.notify_all()
            return {"ok": True}
        if op == "deliver":
            return self._deliver(request)
        return {"ok": False, "error": f"unknown request {op!r}"}

    def _deliver(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted = self.request_pass()
        if not request.get("wait") and not request.get("resolve"):
            return {"ok": True}
        done = self.wait_pass(wanted, float(request.get("timeout", 60)))
        answer: dict[str, Any] = {"ok": done and self.error is None, "error": self.error}
        if not done:
            answer["error"] = self.error or "delivery is still running"
        local_id = request.get("resolve")
        if local_id:
            run_id = self.deliverer.run_id(str(local_id))
            answer["run_id"] = run_id
            if run_id is not None:
                answer["ok"] = True
                answer["env"] = self.deliverer.step_env(str(request["uri"]), run_id)
        return answer


def serve(paths: WorkspacePaths, idle: float) -> None:
    """Run the warm tracker until it is idle or stopped; exits if another one runs."""
    from filelock import FileLock, Timeout

    try:
        # A server still shutting down holds it for a moment; a live one for good.
        lock = FileLock(paths.tracker_lock, timeout=3)
        lock.acquire()
    except Timeout:
        return  # another server won the race: clients reach that one
    try:
        _serve_locked(paths, idle)
    finally:
        lock.release()


def _serve_locked(paths: WorkspacePaths, idle: float) -> None:
    server = _Server(paths, idle)
    sock_path = paths.tracker_socket

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                try:
                    answer = server.handle(json.loads(line))
                except Exception as exc:
                    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                self.wfile.write(json.dumps(answer).encode() + b"\n")
                self.wfile.flush()

    sock_path.parent.mkdir(parents=True, exist_ok=True)
    sock_path.unlink(missing_ok=True)  # left by a server that was killed
    listener = socketserver.ThreadingUnixStreamServer(str(sock_path), Handler)
    listener.daemon_threads = True
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        server.request_pass()  # what earlier commands left pending
        server.loop()
    finally:
        sock_path.unlink(missing_ok=True)  # new clients start a new server from here on
        listener.shutdown()
        listener.server_close()
        server.deliverer.close()


def main(argv: list[str]) -> None:
    # The terminal the command ran in may close or be interrupted: not our business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Before logging is set up, so that its handler writes through it too: no token
    # MLflow quotes (a URI's userinfo) reaches the log file.
    log = redact_process_output()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root, idle = argv
    try:
        serve(WorkspacePaths(Path(root)), float(idle))
    finally:
        log.close()


if __name__ == "__main__":
    main(sys.argv[1:])
