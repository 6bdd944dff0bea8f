"""The composition root of the CLI: builds the typer app and registers the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mlrecipes.cli import errors
from mlrecipes.cli.commands import (
    dag,
    exp,
    init,
    reproduce,
    run,
    runs,
    schema,
    step,
    store,
    tracker,
    tune,
    ui,
    validate,
    workspace,
)
from mlrecipes.cli.help import plain_arguments
from mlrecipes.cli.options import ManifestOpt
from mlrecipes.cli.state import State, get_state, start


class _ErrorHandlingGroup(TyperGroup):
    """Turns every error raised by a command into a message and an exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            plain_arguments(self)
            args = hoist_global_flags(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # typer types it with its vendored click
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else State()
            code = errors.report(exc, console=state.err, verbose=state.verbose)
            raise typer.Exit(code) from None


_GLOBAL_FLAGS = frozenset({"-v", "--verbose"})


def hoist_global_flags(args: list[str]) -> list[str]:
    """Move ``-v`` given after the command in front of it, where the root group reads it.

    Users type ``mlrecipes run -v`` as often as ``mlrecipes -v run``; no command has
    a ``-v`` of its own, and nothing after ``--`` is touched.
    """
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in _GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in _GLOBAL_FLAGS]
    return [*flags, *rest, *args[end:]]


def _manifest_default(ctx: typer.Context, file: Path | None) -> None:
    """``mlrecipes -f X CMD``: X becomes the default of every command's own ``-f``."""
    if file is not None:
        ctx.default_map = _defaults_for(ctx.command, str(file))


def _defaults_for(command: Any, file: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name, sub in getattr(command, "commands", {}).items():
        if any(p.name == "file" for p in sub.params):
            defaults[name] = {"file": file}
        elif getattr(sub, "commands", None):
            defaults[name] = _defaults_for(sub, file)
    return defaults


def _version(value: bool) -> None:
    if value:
        from mlrecipes.core.install import build_info  # only --version needs it

        typer.echo(f"mlrecipes {build_info().describe()}")
        raise typer.Exit()


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    name="mlrecipes",
    help="Run ML experiments whose code spans several git repositories.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, like git's and uv's: fits 80 columns, reads as prose
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show step logs live and tracebacks.")
    ] = False,
    file: ManifestOpt = None,
    _show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and the commit it was built from.",
        ),
    ] = False,
) -> None:
    start(get_state(ctx), verbose=verbose)
    _manifest_default(ctx, file)


app.command("init")(init.init)
app.command("validate")(validate.validate)
app.command("dag")(dag.dag)
app.command("schema")(schema.schema)
app.command("run")(run.run)
app.command("reproduce")(reproduce.reproduce)
app.command("tune")(tune.tune)
app.command("ui")(ui.ui)
app.add_typer(workspace.app, name="workspace")
app.add_typer(step.app, name="step")
app.add_typer(exp.app, name="exp")
app.add_typer(store.app, name="store")
app.add_typer(runs.app, name="runs")
app.add_typer(tracker.app, name="tracker")
