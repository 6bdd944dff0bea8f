"""Console details: a sweep's step lines line up, `-n` means "at most N rows" everywhere,
reproduce's downloads draw no progress bar into a log."""

from __future__ import annotations

import io
import os

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mlrecipes.cli.commands.reproduce import PROGRESS_BAR, quiet_downloads
from mlrecipes.cli.main import app
from mlrecipes.cli.render import EventPrinter
from mlrecipes.core.events import PlanReady, StepFinished


def test_a_sweeps_step_lines_line_up() -> None:
    out = io.StringIO()
    printer = EventPrinter(Console(file=out, width=300, color_system=None))
    labels = {"a": "variant 1: train.lr=0.1", "b": "variant 2: train.lr=0.25", "c": "all variants"}
    printer(PlanReady(2, 3, 0, labels))
    for key, step in (("a", "train"), ("b", "train"), ("c", "prepare_features")):
        printer(StepFinished(step, key, "ok", 1.5, (("auc", 0.9),)))
    lines = [line for line in out.getvalue().splitlines() if line.startswith("✓")]
    assert len(lines) == 3
    assert len({line.index(" ok ") for line in lines}) == 1, lines
    assert "[variant 2: train.lr=0.25]" in lines[1]


def test_dash_n_is_a_row_limit_only() -> None:
    runner = CliRunner()
    tune = runner.invoke(app, ["tune", "--help"], env={"COLUMNS": "200"})
    assert "--trials" in tune.output and " -n " not in tune.output
    show = runner.invoke(app, ["exp", "show", "--help"], env={"COLUMNS": "200"})
    assert "-n" in show.output and "--limit" in show.output


@pytest.mark.parametrize(("terminal", "expected"), [(False, "false"), (True, None)])
def test_no_download_bar_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, expected: str | None
) -> None:
    monkeypatch.delenv(PROGRESS_BAR, raising=False)
    quiet_downloads(terminal)
    assert os.environ.get(PROGRESS_BAR) == expected
