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


def test_the_summary_says_why_the_code_reran_or_kept_a_step() -> None:
    from mlrecipes.core.events import StepFinished

    out = io.StringIO()
    printer = EventPrinter(Console(file=out, width=300, color_system=None))
    ran = "code changed: feats@1a2b3c4 -> feats@5d6e7f8: feats/pkg/hello.py"
    kept = "feats@1a2b3c4 -> feats@5d6e7f8: no file it read changed (8 files checked)"
    printer(StepFinished("hello", "k1", "ok", 0.5, code_note=ran))
    printer(StepFinished("train", "k2", "cached", 0.0, code_note=kept))
    printer(StepFinished("other", "k3", "failed", 0.1, code_note=ran))
    lines = [line.strip() for line in out.getvalue().splitlines()]
    assert lines[1] == ran and lines[3] == kept
    assert lines.count(ran) == 1  # a failed step's line is about its failure
