"""``mlrecipes step run|call``: debug one step in its environment."""

from __future__ import annotations

from typing import Annotated

import typer

from mlrecipes.cli.errors import EXIT_STEP_FAILED
from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.sanitize import clean
from mlrecipes.cli.state import get_state
from mlrecipes.core import Workspace
from mlrecipes.core.debug import call_snippet, run_step_foreground

app = typer.Typer(help="Debug one step in its own environment.")

StepArg = Annotated[str, typer.Argument(help="The step.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set-param", "-S", metavar="KEY=VALUE", help="Override a param."),
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
    code = run_step_foreground(ws, step, pdb=pdb, overrides=tuple(set_ or ()))
    if code != 0:
        raise typer.Exit(EXIT_STEP_FAILED)
    scratch = ws.paths.state / "debug" / step
    get_state(ctx).err.print(f"[green]ok[/] {step}: outputs in {scratch} (not stored, not tracked)")


@app.command("call")
def call(ctx: typer.Context, step: StepArg, file: ManifestOpt = None, set_: SetOpt = None) -> None:
    """Print the interpreter and a Python snippet that calls STEP's function."""
    python, snippet = call_snippet(Workspace.load(file), step, tuple(set_ or ()))
    console = get_state(ctx).console
    console.print(clean(f"# interpreter: {python}"), markup=False)
    console.print(clean(snippet), markup=False)
