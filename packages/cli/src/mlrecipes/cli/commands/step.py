"""``mlrecipes step run|call``: debug one step in its environment."""

from __future__ import annotations

from typing import Annotated

import typer

from mlrecipes.cli.completion import complete_overrides, complete_steps
from mlrecipes.cli.errors import EXIT_STEP_FAILED
from mlrecipes.cli.hints import pythonpath_note
from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.sanitize import clean, escape
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.run.debug import call_snippet, run_step_foreground

app = typer.Typer(help="Debug one step in its own environment.")

StepArg = Annotated[
    str, typer.Argument(metavar="STEP", help="The step.", autocompletion=complete_steps)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set-param",
        "-S",
        metavar="KEY=VALUE",
        help="Override a param.",
        autocompletion=complete_overrides,
    ),
]


@app.command("run")
def run(
    ctx: typer.Context,
    step: StepArg,
    file: ManifestOpt = None,
    pdb: Annotated[
        bool, typer.Option("--pdb", help="Post-mortem debugger on an exception.")
    ] = False,
    set_: SetOpt = None,
) -> None:
    """Run STEP in the foreground with inputs from the store (outputs go to a scratch folder)."""
    ws = Workspace.load(file)
    note = pythonpath_note()
    if note:
        get_state(ctx).err.print(note)
    result = run_step_foreground(ws, step, pdb=pdb, overrides=tuple(set_ or ()))
    if result.code != 0:
        raise typer.Exit(EXIT_STEP_FAILED)
    state = get_state(ctx)
    for name, value in result.metrics.items():
        state.console.print(f"{escape(name)} = {value:.6g}")
    state.err.print(
        f"[green]ok[/] {escape(step)}: outputs in {escape(str(result.scratch))} "
        "(not stored, not tracked)"
    )


@app.command("call")
def call(ctx: typer.Context, step: StepArg, file: ManifestOpt = None, set_: SetOpt = None) -> None:
    """Print the interpreter and a Python snippet that calls STEP's function."""
    _python, snippet = call_snippet(Workspace.load(file), step, tuple(set_ or ()))
    # The snippet's first line names the interpreter to paste it into.
    get_state(ctx).console.print(clean(snippet), markup=False)
