"""Help pages that read as prose: names and metavars, never Python type names.

typer prints an argument's Python type beside it (``STEP <str>``,
``[STEP]... <list[str]>``) and writes a required one ``{STEP}``; every argument
here has a metavar that says what to give, so the type is left out and the
usage line reads ``STEP`` / ``[STEP]...`` as in git's and uv's help. Options
say it with their metavar too (``-j N``, ``-f PATH``); flags show none.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument


def _no_type(*_args: Any, **_kwargs: Any) -> None:
    return None


def _usage_name(param: TyperArgument) -> Any:
    """``STEP`` when required, ``[STEP]`` when not (typer writes ``{STEP}``), ``...`` if many."""

    def name() -> str:
        text = param.display_name_raw if param.required else f"[{param.display_name_raw}]"
        return text + ("..." if param.nargs != 1 else "")

    return name


def plain_arguments(command: Any) -> Any:  # typer's vendored click command
    """Drop the type label of every argument of ``command`` and of its subcommands."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            # Instance attributes shadow typer's methods for this parameter only.
            param.display_type_rich = _no_type  # type: ignore[method-assign]
            param._usage_display_name = _usage_name(param)  # type: ignore[method-assign]
    subcommands: dict[str, Any] = getattr(command, "commands", {})
    for sub in subcommands.values():
        plain_arguments(sub)
    return command
