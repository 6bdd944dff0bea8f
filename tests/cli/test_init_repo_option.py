"""``mlrecipes init --repo NAME=URL[@REV][#SUBDIR]``: an '@' in a URL's user part is no rev."""

from __future__ import annotations

import pytest
import typer

from mlrecipes.cli.commands.init import parse_repo
from mlrecipes.core.manifest.template import NewRepo


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a=../x", NewRepo("a", "../x")),  # no rev: init asks for the default branch
        ("a=../x@dev#pkg/sub", NewRepo("a", "../x", "dev", "pkg/sub")),
        ("a=../x@feature/y", NewRepo("a", "../x", "feature/y")),
        ("a=git@github.com:o/r.git", NewRepo("a", "git@github.com:o/r.git")),
        ("a=git@github.com:o/r.git@v1", NewRepo("a", "git@github.com:o/r.git", "v1")),
        ("a=https://u@h/x.git", NewRepo("a", "https://u@h/x.git")),
        ("a=https://u@h/x.git@v2#s", NewRepo("a", "https://u@h/x.git", "v2", "s")),
    ],
)
def test_repo_option_parses(value: str, expected: NewRepo) -> None:
    assert parse_repo(value) == expected


@pytest.mark.parametrize("value", ["a", "=../x", "a=", "a=#sub"])
def test_repo_option_without_name_or_url_is_a_usage_error(value: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_repo(value)
