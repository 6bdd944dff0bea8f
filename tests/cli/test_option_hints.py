"""Core hints name API options (core knows no argv); the CLI shows them as its flags."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlrecipes.cli.errors import API_FLAGS, cli_words
from mlrecipes.cli.main import app
from mlrecipes.core.errors import UserError
from mlrecipes.core.reproduce.uri import reproduce_tracking_uri


def test_every_api_option_becomes_its_flag() -> None:
    for option, flag in API_FLAGS.items():
        assert cli_words(f"use {option} here") == f"use {flag} here"
    assert cli_words("set `python:` in workspace.yaml") == "set `python:` in workspace.yaml"


def test_a_core_hint_names_the_option_and_the_cli_shows_the_flag() -> None:
    with pytest.raises(UserError) as caught:
        reproduce_tracking_uri()  # no workspace.yaml here, no MLFLOW_TRACKING_URI
    assert "--" not in (caught.value.hint or "") and "`tracking_uri`" in (caught.value.hint or "")
    result = CliRunner().invoke(app, ["reproduce", "0123456789abcdef"])
    assert result.exit_code == 1, result.output
    assert "pass --tracking-uri" in result.output and "`tracking_uri`" not in result.output
