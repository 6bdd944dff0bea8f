"""The composition root of the CLI: builds the typer app and registers the commands."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mlrecipes.cli import errors
from mlrecipes.cli.commands import (
    dag,
    exp,
    reproduce,
    run,
    schema,
    step,
    store,
    validate,
    workspace,
)
from mlrecipes.cli.state import State, get_state


class _ErrorHandlingGroup(TyperGroup):
    """Turns every error raised by a command into a message and an exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer types it with its vendored click
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else State()
            code = errors.report(exc, console=state.err, verbose=state.verbose)
            raise typer.Exit(code) from None


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # ~50 ms: only --version needs it

        typer.echo(f"mlrecipes {version('mlrecipes')}")
        raise typer.Exit()


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    name="mlrecipes",
    help="Run ML experiments whose code spans several git repositories.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show step logs live and tracebacks.")
    ] = False,
    _show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    get_state(ctx).verbose = verbose
    if not verbose:
        # MLflow announces its one-time schema migrations at INFO; they are no news to users.
        for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
            logging.getLogger(name).setLevel(logging.WARNING)


app.command("validate")(validate.validate)
app.command("dag")(dag.dag)
app.command("schema")(schema.schema)
app.command("run")(run.run)
app.command("reproduce")(reproduce.reproduce)
app.add_typer(workspace.app, name="workspace")
app.add_typer(step.app, name="step")
app.add_typer(exp.app, name="exp")
app.add_typer(store.app, name="store")


def main() -> None:
    """Console-script entry point."""
    app()
