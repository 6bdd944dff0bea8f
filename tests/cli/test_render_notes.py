"""A repo note (the workspace pin replaced a repo's own pin) is shown as a warning."""

from __future__ import annotations

import io

from rich.console import Console

from mlrecipes.cli.render import EventPrinter
from mlrecipes.core.events import RepoNote


def test_repo_notes_are_printed_as_warnings_even_without_verbose() -> None:
    out = io.StringIO()
    printer = EventPrinter(Console(file=out, width=300, color_system=None))
    message = "repo 'app': its own dependencies pin gradlib at 1111111; the workspace pin wins"
    printer(RepoNote("app", message))
    assert out.getvalue().strip() == f"warning: {message}"
