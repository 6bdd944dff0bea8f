"""What reaches the terminal: no credentials, no escape sequences (issue 16, items 2 and 17)."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.cli.sanitize import clean, install_log_redaction


def test_clean_escapes_control_sequences_and_redacts_urls() -> None:
    text = "\x1b]0;pwned\x07red \x1b[31mX\u202e\ud800 https://u:Zq1/Zq2@h/x\nnext\tline"
    shown = clean(text)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202e" in shown and "\\ud800" in shown
    assert "Zq" not in shown and "https://h/x" in shown
    assert "\nnext\tline" in shown


def test_mlflow_style_debug_logs_lose_their_credentials(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    try:
        install_log_redaction()
        with caplog.at_level(logging.DEBUG, logger="mlflow.utils.rest_utils"):
            logging.getLogger("mlflow.utils.rest_utils").debug(
                "API request to %s failed", "http://u:Zq1@127.0.0.1:5000/api/2.0/x"
            )
    finally:
        logging.setLogRecordFactory(previous)
    assert "API request to http://127.0.0.1:5000/api/2.0/x failed" in caplog.text
    assert "Zq1" not in caplog.text


def test_internal_error_hint_does_not_ask_for_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlrecipes.cli.commands import validate as command

    class Boom:
        @staticmethod
        def load(*_args: object) -> None:
            raise RuntimeError("cannot reach https://ci:Zq1@host/x\x1b[2J")

    monkeypatch.setattr(command, "Workspace", Boom)
    result = CliRunner().invoke(app, ["-v", "validate", "-f", "nothing.yaml"])
    assert result.exit_code == 3, result.output
    assert "Zq1" not in result.output and "\x1b[2J" not in result.output
    assert "output of the same command run with -v" not in result.output


ESCAPE_METRIC = "\x1b[2J\x1b[31mFAKE"


def test_every_event_is_cleaned_before_it_is_shown() -> None:
    """Issue 25 item 16: metric names from a step or a team-store manifest, log lines, labels."""
    import io

    from rich.console import Console

    from mlrecipes.cli.render import EventPrinter
    from mlrecipes.core.events import PlanReady, StepFinished, StepLog

    out = io.StringIO()
    printer = EventPrinter(Console(file=out, width=200), verbose=True)
    printer(PlanReady(1, 1, 0, {"k": "\x1b]0;title\x07"}))
    printer(StepFinished("s", "k", "cached", 0.1, ((ESCAPE_METRIC, 1.0),), source_run="r1"))
    printer(StepLog("s", "\x1b[2Jline", "k"))
    shown = out.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown, repr(shown)
    assert "\\x1b[2J\\x1b[31mFAKE=1" in shown and "from team store: run r1" in shown
