"""``mlrecipes tune``: hyperparameter search on Optuna, every trial a cached pipeline run."""

from __future__ import annotations

import shlex
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlrecipes.cli.commands.run import ExecutorKind
from mlrecipes.cli.completion import complete_overrides
from mlrecipes.cli.errors import EXIT_STEP_FAILED
from mlrecipes.cli.options import (
    DevOpt,
    FrozenOpt,
    LockedOpt,
    ManifestOpt,
    RayStorageOpt,
    TargetsArg,
    parse_dev,
    sync_mode,
)
from mlrecipes.cli.sanitize import clean_event, escape
from mlrecipes.cli.state import get_state
from mlrecipes.core import (
    RunOptions,
    TuneOptions,
    TuneResult,
    Workspace,
)
from mlrecipes.core.events import Event, TrialFinished, TrialsDraining, TrialStarted


class Direction(StrEnum):
    max = "max"
    min = "min"


class SamplerKind(StrEnum):
    tpe = "tpe"
    random = "random"
    grid = "grid"


class _TrialPrinter:
    """One line per finished trial (trials may finish on several threads at once)."""

    def __init__(self, console: Console, *, verbose: bool) -> None:
        self.console, self.verbose, self.lock = console, verbose, threading.Lock()

    def __call__(self, event: Event) -> None:
        event = clean_event(event)
        with self.lock:
            if isinstance(event, TrialStarted) and self.verbose:
                sets = " ".join(event.overrides)
                self.console.print(f"[dim]trial {event.number} starts: {escape(sets)}[/]")
            elif isinstance(event, TrialsDraining):
                self.console.print(
                    f"[yellow]interrupted: waiting for {event.running} running trial(s)[/]"
                )
            elif isinstance(event, TrialFinished):
                if event.state == "COMPLETE":
                    self.console.print(f"trial {event.number}: [green]{event.value:.6g}[/]")
                else:
                    why = (event.error or "").strip().splitlines()
                    text = escape(why[-1] if why else "")
                    self.console.print(
                        f"trial {event.number}: [red]{event.state.lower()}[/] {text}"
                    )


def _cell(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _table(result: TuneResult, top: int) -> Table:
    keys = list(result.space)
    table = Table("trial", result.objective, *keys, "run", title=f"best trials of {result.study}")
    for trial in result.ranked()[:top]:
        cells = [escape(_cell(trial.params.get(k, result.space[k]))) for k in keys]
        table.add_row(str(trial.number), f"{trial.value:.6g}", *cells, trial.run_id or "")
    return table


def _report(
    console: Console, err: Console, result: TuneResult, top: int, file: Path | None
) -> None:
    failed = len(result.failed)
    done = sum(t.state == "COMPLETE" for t in result.trials)
    err.print(
        f"study [bold]{escape(result.study)}[/]: {done} complete, {failed} failed "
        f"({result.ran} run now) in {escape(result.storage)}"
    )
    best = result.best
    if best is None:
        err.print("[red]no trial completed[/]")
        raise typer.Exit(EXIT_STEP_FAILED if failed else 0)
    table = _table(result, top)
    natural = Console(width=10_000).measure(table).maximum
    # as `exp show`: a wide table stays whole, never ellipsized
    wide = Console(width=natural, highlight=False) if natural > console.width else console
    wide.print(table)
    command = f"mlrecipes reproduce {best.run_id}"
    if file is not None:  # reproduce finds the tracking store through the manifest
        command += f" -f {shlex.quote(str(file))}"
    console.print(f"reproduce the best: {escape(command)}")


def tune(
    ctx: typer.Context,
    objective: Annotated[
        str, typer.Option("--objective", metavar="STEP.METRIC", help="The metric to optimize.")
    ],
    direction: Annotated[
        Direction, typer.Option("--direction", help="Maximize or minimize the objective.")
    ],
    trials: Annotated[
        int,
        typer.Option(
            "--trials",
            min=1,
            help="Total finished trials the study should have: a resumed study runs only "
            "the missing ones; a larger N adds trials.",
        ),
    ],
    steps: TargetsArg = None,
    space: Annotated[
        list[str] | None,
        typer.Option(
            "--set-param",
            "-S",
            metavar="KEY=SPACE",
            autocompletion=complete_overrides,
            help="Search space in Hydra's grammar: 'k=interval(a, b)', 'k=tag(log, interval(a, "
            "b))', 'k=range(a, b)' (ints, b excluded), 'k=choice(x, y)'; a plain value is fixed.",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Trials run side by side.")] = 1,
    study: Annotated[
        str | None,
        typer.Option(
            "--study",
            metavar="NAME",
            help="Study name: the same name resumes or extends it (default: derived from "
            "the objective and the search space, so the same command resumes).",
        ),
    ] = None,
    sampler: Annotated[SamplerKind, typer.Option("--sampler", help="Optuna sampler.")] = (
        SamplerKind.tpe
    ),
    seed: Annotated[int | None, typer.Option("--seed", help="Sampler seed.")] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            metavar="URL",
            help="Optuna storage URL for a shared study (default: .mlrecipes/optuna.db).",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows of the best-trials table.")] = 5,
    file: ManifestOpt = None,
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    dev: DevOpt = None,
    executor: Annotated[
        ExecutorKind | None,
        typer.Option("--executor", help="Where steps run (default: the manifest's, else local)."),
    ] = None,
    ray_storage: RayStorageOpt = None,
) -> None:
    """Search hyperparameters with Optuna; every trial is a pipeline run that reuses the cache."""
    state = get_state(ctx)
    ws = Workspace.load(file, dev=parse_dev(dev))
    run = RunOptions(
        sync_mode=sync_mode(locked=locked, frozen=frozen),
        executor=executor.value if executor else None,
        ray_storage=ray_storage.value if ray_storage else None,
    )
    options = TuneOptions(
        space=tuple(space or ()),
        objective=objective,
        direction=direction.value,
        trials=trials,
        jobs=jobs,
        study=study,
        sampler=sampler.value,
        seed=seed,
        storage=storage,
        run=run,
    )
    printer = _TrialPrinter(state.err, verbose=state.verbose)
    try:
        result = ws.tune(tuple(steps or ()), options=options, on_event=printer)
    except KeyboardInterrupt:
        state.err.print("[yellow]rerun the same command to run the missing trials[/]")
        raise
    _report(state.console, state.err, result, top, file)
