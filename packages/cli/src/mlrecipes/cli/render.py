"""Rendering core events for a terminal: one line per state change (thread-safe)."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape

from mlrecipes.core.events import (
    Event,
    LockWritten,
    PipelineFinished,
    PlanReady,
    RepoProgress,
    StepFinished,
    StepLog,
    StepStarted,
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
    """Prints events as they come; ``verbose`` adds live step output."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = self._format(event)
        if line is not None:
            with self._lock:
                self.console.print(line)

    def _format(self, event: Event) -> str | None:
        match event:
            case RepoProgress(repo=repo, phase=phase, message=message):
                if phase != "failed" and not self.verbose:
                    return None
                extra = f" {escape(message)}" if message else ""
                return f"[{_REPO_STYLE[phase]}]{phase:>12}[/] {escape(repo)}{extra}"
            case LockWritten(path=path, changed=changed):
                return f"[green]wrote[/] {escape(path)}" if changed else None
            case PlanReady(variants=variants, to_run=to_run, cached=cached):
                runs = f"{variants} variants, " if variants > 1 else ""
                return f"[bold]plan:[/] {runs}{to_run} to run, {cached} from the store"
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
        if event.error:
            text += f"\n[red]{escape(event.error)}[/]"
        if event.log_path and event.status == "failed":
            text += f"\n  log: {escape(event.log_path)}"
        return text
