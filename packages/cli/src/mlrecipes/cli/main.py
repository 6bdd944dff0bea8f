"""The console script: answers Tab and a no-op ``run`` at once, else runs the typer app.

The app itself (every command) is :mod:`mlrecipes.cli.app`; it is built only when
:mod:`mlrecipes.cli.fast` cannot answer.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlrecipes.cli.app import app as app
    from mlrecipes.cli.app import hoist_global_flags as hoist_global_flags


def main() -> None:
    """Console-script entry point."""
    from mlrecipes.cli.fast import COMPLETE_VAR, answer

    code = answer(sys.argv[1:], os.environ)
    if code is not None:
        sys.exit(code)
    from mlrecipes.cli.app import app

    app(complete_var=COMPLETE_VAR)  # whatever the program is called (python -m mlrecipes.cli)


def __getattr__(name: str) -> Any:  # `from mlrecipes.cli.main import app` keeps working
    if name.startswith("__"):  # the import system's probes (__path__, ...)
        raise AttributeError(name)
    from mlrecipes.cli import app as module

    return getattr(module, name)
