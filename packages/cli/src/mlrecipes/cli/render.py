"""Rendering core events for a terminal: one line per state change (thread-safe)."""

from __future__ import annotations

import threading

from rich.cells import cell_len
from rich.console import Console
from rich.status import Status

from mlrecipes.cli.sanitize import clean_event, escape
from mlrecipes.core.events import (
    Event,
    LockWritten,
    PipelineFinished,
    PlanReady,
    RepoNote,
    RepoProgress,
    RunsWaiting,
    StepFinished,
    StepLog,
    StepStarted,
    StepWaiting,
    TeamStoreNotice,
)

_REPO_STYLE = {
    "fetching": "dim",
    "checking-out": "dim",
    "building-env": "dim",
    "ready": "green",
    "failed": "red",
}
NAME_WIDTH = 20  # the step-name column of step lines
_STEP_MARK = {
    "ok": "[green]✓[/]",
    "cached": "[cyan]=[/]",
    "failed": "[red]✗[/]",
    "killed": "[yellow]![/]",
    "skipped": "[dim]-[/]",
}


class EventPrinter:
    """Prints events as they come; ``verbose`` adds live step output.

    Used as a context manager it also shows a live status line (a spinner with
    each repo's phase and the running steps) on terminals; rich leaves it out
    when the output is not a terminal (CI logs keep only the printed lines).
    """

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._lock = threading.Lock()
        self._repos: dict[str, str] = {}
        self._running: dict[str, str] = {}
        self._status: Status | None = None
        self._failures: list[tuple[str, str]] = []  # (line, message) of failed repos
        self._labels: dict[str, str] = {}  # fingerprint -> the sweep variants it serves
        self._name_width = NAME_WIDTH

    def __enter__(self) -> EventPrinter:
        self._status = self.console.status("loading the workspace")
        self._status.start()
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        # A repo's failure is held back until the end: the error that stops the command
        # is printed once by the error handler, the other repos' failures here.
        said = str(exc) if exc is not None else ""
        for line, message in self._failures:
            if not message or message not in said:
                self.console.print(line)

    def __call__(self, event: Event) -> None:
        event = clean_event(event)  # what steps and stores said, made safe once
        line = self._format(event)
        with self._lock:
            self._track(event)
            if line is None:
                return
            if isinstance(event, RepoProgress) and event.phase == "failed" and not self.verbose:
                self._failures.append((line, event.message))
            else:
                self.console.print(line)

    def _track(self, event: Event) -> None:
        if self._status is None:
            return
        if isinstance(event, RepoProgress):
            self._repos[event.repo] = event.phase
        elif isinstance(event, StepStarted):
            self._running[event.key] = event.step
        elif isinstance(event, StepFinished):
            self._running.pop(event.key, None)
        busy = [
            f"{repo}: {phase}" for repo, phase in sorted(self._repos.items()) if phase != "ready"
        ]
        if self._running:
            text = "running " + ", ".join(sorted(self._running.values()))
        elif busy:
            text = "syncing " + " · ".join(busy)
        else:
            text = "logging to MLflow" if self._repos else "working"
        self._status.update(escape(text))

    def _format(self, event: Event) -> str | None:
        match event:
            case RepoProgress(repo=repo, phase=phase, message=message):
                if phase != "failed" and not self.verbose:
                    return None
                extra = f" {escape(message)}" if message else ""
                return f"[{_REPO_STYLE[phase]}]{phase:>12}[/] {escape(repo)}{extra}"
            case RepoNote(message=message):
                return f"[yellow]warning:[/] {escape(message)}"
            case LockWritten(path=path, changed=changed):
                return f"[green]wrote[/] {escape(path)}" if changed else None
            case PlanReady(
                variants=variants, to_run=to_run, cached=cached, labels=labels, remote=remote
            ):
                self._labels = dict(labels)
                # room for the longest " [variant ...]" too, so that a sweep's columns line up
                widest = max((cell_len(label) for label in labels.values()), default=-3)
                self._name_width = NAME_WIDTH + widest + 3
                runs = f"{variants} variants, " if variants > 1 else ""
                team = f", {remote} from the team store" if remote else ""
                return f"[bold]plan:[/] {runs}{to_run} to run, {cached} from the store{team}"
            case TeamStoreNotice(message=message):
                return f"[yellow]team store:[/] {escape(message)}"
            case StepStarted(step=step, key=key, label=label):
                if not self.verbose:
                    return None
                return f"[dim]     start[/] {escape(self._named(label or step, key))}"
            case StepWaiting(step=step, key=key, label=label):
                name = escape(self._named(label or step, key))
                return (
                    f"[dim]      wait[/] {name}: another run is executing it; its result is reused"
                )
            case StepFinished():
                return self._step_line(event)
            case StepLog(step=step, line=text, key=key):
                if not self.verbose:
                    return None
                return f"[dim]{escape(self._named(step, key))} |[/] {escape(text)}"
            case PipelineFinished():
                return None
            case RunsWaiting():
                return waiting_line(event)
        return None

    def _named(self, step: str, key: str) -> str:
        """The step, with the sweep variant(s) it runs for: every line of a sweep says which."""
        variant = self._labels.get(key)
        return f"{step} [{variant}]" if variant else step

    def _step_line(self, event: StepFinished) -> str:
        mark = _STEP_MARK[event.status]
        metrics = escape(" ".join(f"{k}={v:.4g}" for k, v in event.metrics))
        name = escape(self._named(event.step, event.key))
        pad = " " * max(0, self._name_width - cell_len(self._named(event.step, event.key)))
        text = f"{mark} {name}{pad} {event.status:<8} {event.duration:6.2f}s {metrics}"
        # The error itself is said once, by the final error (with the traceback's tail).
        if event.source_run:
            text += f" from team store: run {event.source_run}"
        if event.code_note and event.status in ("ok", "cached"):
            text += f"\n  [dim]{escape(event.code_note)}[/]"
        if event.log_path and event.status == "failed":
            text += f"\n  log: {escape(event.log_path)}"
        return text


def waiting_line(event: RunsWaiting) -> str:
    """One line: how many runs wait for MLflow, why, and what delivers them."""
    runs = f"{event.runs} run{'s' if event.runs != 1 else ''}"
    reason = escape(event.reason or "the warm tracker is delivering them")
    return f"[yellow]{runs} waiting for MLflow:[/] {reason} (`mlrecipes runs push` delivers them)"
