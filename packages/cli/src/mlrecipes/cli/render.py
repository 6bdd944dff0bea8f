"""Rendering core events for a terminal: one line per state change (thread-safe)."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from mlrecipes.core.events import (
    Event,
    LockWritten,
    PipelineFinished,
    PlanReady,
    RepoProgress,
    StepFinished,
    StepLog,
    StepStarted,
    TeamStoreNotice,
)

_REPO_STYLE = {
    "fetching": "dim",
    "checking-out": "dim",
    "building-env": "dim",
    "ready": "green",
    "failed": "red",
}
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

    def __enter__(self) -> EventPrinter:
        self._status = self.console.status("loading the workspace")
        self._status.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, event: Event) -> None:
        line = self._format(event)
        with self._lock:
            self._track(event)
            if line is not None:
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
            case LockWritten(path=path, changed=changed):
                return f"[green]wrote[/] {escape(path)}" if changed else None
            case PlanReady(variants=variants, to_run=to_run, cached=cached, remote=remote):
                runs = f"{variants} variants, " if variants > 1 else ""
                team = f", {remote} from the team store" if remote else ""
                return f"[bold]plan:[/] {runs}{to_run} to run, {cached} from the store{team}"
            case TeamStoreNotice(message=message):
                return f"[yellow]team store:[/] {escape(message)}"
            case StepStarted(step=step, label=label):
                return f"[dim]     start[/] {escape(label or step)}" if self.verbose else None
            case StepFinished():
                return self._step_line(event)
            case StepLog(step=step, line=text):
                return f"[dim]{escape(step)} |[/] {escape(text)}" if self.verbose else None
            case PipelineFinished():
                return None
        return None

    def _step_line(self, event: StepFinished) -> str:
        mark = _STEP_MARK[event.status]
        metrics = " ".join(f"{k}={v:.4g}" for k, v in event.metrics)
        text = f"{mark} {escape(event.step):<20} {event.status:<8} {event.duration:6.2f}s {metrics}"
        if event.source_run:
            text += f" from team store: run {event.source_run}"
        if event.error:  # the last line here; the traceback's tail comes with the final error
            last = event.error.strip().splitlines()[-1] if event.error.strip() else event.error
            text += f"\n  [red]{escape(last)}[/]"
        if event.log_path and event.status == "failed":
            text += f"\n  log: {escape(event.log_path)}"
        return text
