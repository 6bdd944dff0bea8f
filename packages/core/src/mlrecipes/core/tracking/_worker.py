"""The tracker process: reads calls from stdin, runs them on an MlflowTracker, answers.

Run as ``python -m mlrecipes.core.tracking._worker`` by
:class:`~mlrecipes.core.tracking.process.ProcessTracker`; the protocol is one
pickled ``(method, args)`` in, one pickled ``(kind, value)`` out, in order.
The first call is ``open``. On EOF (the orchestrator died) the runs still open
end KILLED with a note.
"""

from __future__ import annotations

import pickle
import signal
import sys
import traceback
from typing import IO, Any

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking.log_redaction import RedactingStream, redact_process_output

DIED_NOTE = "ended by mlrecipes: the command that ran it stopped before ending it"


def _open(config: Any) -> Any:
    from mlrecipes.core.tracking.live import LiveRuns, end_dead_runs
    from mlrecipes.core.tracking.mlflow_tracker import MlflowTracker

    if isinstance(sys.stderr, RedactingStream):  # MLflow quotes the URI, token and all
        sys.stderr.add_url_credentials(config.tracking_uri)
    live = None
    if config.live_dir is not None:
        live = LiveRuns.for_process(config.live_dir, config.tracking_uri, config.owner_pid)
    tracker = MlflowTracker(config.tracking_uri, artifact_root=config.artifact_root, live=live)
    if config.live_dir is not None:
        with tracker._errors("end runs left open by a process that died"):
            end_dead_runs(tracker.client, config.live_dir, config.tracking_uri)
    return tracker


def _dispatch(tracker: Any, method: str, args: tuple[Any, ...]) -> Any:
    if method == "create_step_run":
        run_id = tracker.create_step_run(*args)
        return run_id, tracker.step_env(run_id)
    if method not in {
        "start_pipeline",
        "finish_step",
        "log_step_run",
        "finish_pipeline",
        "run_job",
        "find_finished_pipeline",
        "close",
    }:
        raise ValueError(f"unknown tracker call {method!r}")
    return getattr(tracker, method)(*args)


def _answer(out: IO[bytes], kind: str, value: Any) -> None:
    pickle.dump((kind, value), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    tracker: Any = None
    while True:
        try:
            method, args = pickle.load(inp)  # noqa: S301 (our own parent, a private pipe)
        except EOFError:
            break
        try:
            if method == "open":
                tracker = _open(*args)
                value = None
            else:
                value = _dispatch(tracker, method, args)
        except TrackingError as exc:
            traceback.print_exc()
            _answer(out, "tracking", (exc.message, exc.uri, exc.hint))
            continue
        except Exception as exc:
            traceback.print_exc()
            _answer(out, "error", f"{type(exc).__name__}: {exc}")
            continue
        _answer(out, "ok", value)
        if method == "close":
            return
    if tracker is not None:  # the orchestrator is gone: leave nothing RUNNING
        tracker.close(note=DIED_NOTE)


def main() -> None:
    # Ctrl-C reaches the whole process group; the orchestrator decides what it ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # it ends on EOF, when its caller does
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    # Nothing printed by a library may corrupt the protocol, nor reach the log with a token.
    log = redact_process_output()
    try:
        serve(inp, out)
    finally:
        log.close()


if __name__ == "__main__":
    main()
