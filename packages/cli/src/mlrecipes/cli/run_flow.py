"""What ``mlrecipes run`` does once its command line is parsed; typer-free.

Two callers: the typer command (:mod:`mlrecipes.cli.commands.run`), and
:mod:`mlrecipes.cli.fast`, which parses a plain ``run [-f X] [-j N] [-S K=V]...
[STEP]...`` itself and calls :func:`run_and_report` before typer's app is built
(building it costs more than a one-step rerun).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from mlrecipes.cli.sanitize import escape
from mlrecipes.cli.state import State

if TYPE_CHECKING:  # the core is imported when the command runs, not when the CLI starts
    from mlrecipes.core import Plan, RunOptions, RunResult


def run_and_report(
    state: State,
    *,
    file: Path | None,
    steps: Sequence[str],
    options: RunOptions,
    dev: Mapping[str, Path] | None = None,
) -> None:
    """Load the workspace, run it (events printed as they come), say how it ended."""
    from mlrecipes.cli.hints import pythonpath_note, update_hint
    from mlrecipes.cli.render import EventPrinter
    from mlrecipes.core import Workspace
    from mlrecipes.core.sync.upstream import known_upstream

    ws = Workspace.load(file, dev=dict(dev or {}))
    note = pythonpath_note()
    if note:
        state.err.print(note)
    with EventPrinter(state.err, verbose=state.verbose) as printer:
        result = ws.run(tuple(steps), options=options, on_event=printer)
    hint = update_hint(known_upstream(ws.manifest))  # no network: what the last fetch saw
    if hint:
        state.err.print(hint)
    if options.dry_run:
        _print_plan(state.console, result.plan)
        return
    word = "[green]up to date[/]: run" if result.up_to_date else "[green]finished[/] run"
    for run_id, variant in _variant_names(result):
        state.console.print(f"{word} {run_id}{variant}")
    if result.up_to_date:
        return
    state.console.print(
        f"[dim]tracking: {escape(result.tracking_uri)}, experiment {escape(result.experiment)}[/]"
    )


def _print_plan(console: Console, plan: Plan) -> None:
    from mlrecipes.core.plan.labels import variant_label

    for variant in plan.variants:
        if len(plan.variants) > 1:
            console.print(f"[bold]{escape(variant_label(plan, variant))}[/]")
        for step in variant.steps:
            source = plan.remote.get(step.fingerprint)
            if source is not None:
                console.print(
                    f"  [cyan]remote[/] {escape(step.step)}: from team store: run {source}"
                )
            elif step.status == "cached":
                # A step kept across a commit by its code record says why.
                why = f": {escape('; '.join(step.reasons))}" if step.reasons else ""
                console.print(
                    f"  [cyan]cached[/] {escape(step.step)} [dim]{step.fingerprint[:12]}[/]{why}"
                )
            else:
                # A repo not synced (dry run) or not buildable: say that, not a diff.
                why = step.unavailable or "; ".join(step.reasons)
                console.print(f"  [yellow]run[/]    {escape(step.step)}: {escape(why)}")


def _variant_names(result: RunResult) -> list[tuple[str, str]]:
    """Each run id with `` [variant i: ...]`` in a sweep (run ids come in variant order)."""
    from mlrecipes.core.plan.labels import variant_label

    plan = result.plan
    if len(plan.variants) < 2 or len(result.run_ids) != len(plan.variants):
        return [(run_id, "") for run_id in result.run_ids]
    return [
        (run_id, escape(f" [{variant_label(plan, variant)}]"))
        for run_id, variant in zip(result.run_ids, plan.variants, strict=True)
    ]
