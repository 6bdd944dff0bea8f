"""Help pages that read as prose: names and metavars, never Python type names.

typer prints an argument's Python type beside it (``STEP <str>``,
``[STEP]... <list[str]>``); every argument here has a metavar that says what
to give, so the type is left out. Options say it with their metavar too
(``-j N``, ``-f PATH``); flags show none.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument


def _no_type(*_args: Any, **_kwargs: Any) -> None:
    return None


def plain_arguments(command: Any) -> Any:  # typer's vendored click command
    """Drop the type label of every argument of ``command`` and of its subcommands."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            # An instance attribute shadows typer's method for this parameter only.
            param.display_type_rich = _no_type  # type: ignore[method-assign]
    subcommands: dict[str, Any] = getattr(command, "commands", {})
    for sub in subcommands.values():
        plain_arguments(sub)
    return command
