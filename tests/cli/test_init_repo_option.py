"""``mlrecipes init --repo NAME=URL[@REV][#SUBDIR]``: an '@' in a URL's user part is no rev."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mlrecipes.cli.commands.init import parse_repo
from mlrecipes.cli.main import app
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


@pytest.mark.parametrize(
    ("repo", "said"),
    [
        ("a=../a@-rf", "rev must not start with '-'"),
        ("b=ext::sh -c touch% /tmp/x", "'transport::' remote helper"),
    ],
)
def test_init_never_writes_what_validate_refuses(tmp_path: Path, repo: str, said: str) -> None:
    """Issue 25 item 21: init wrote manifests its own validate refused."""
    folder = tmp_path / "new"
    result = CliRunner().invoke(app, ["init", "-f", str(folder / "w.yaml"), "--repo", repo])
    assert result.exit_code == 1, result.output
    assert "validate refuses" in " ".join(result.output.split())
    assert said in " ".join(result.output.split())
    assert list(folder.iterdir()) == []  # nothing written, no draft left


def test_init_writes_credentials_as_env(tmp_path: Path) -> None:
    """Issue 25 item 21: a token URL was written in clear into workspace.yaml."""
    manifest = tmp_path / "w.yaml"
    repo = "my-lib=https://alice:s3cr%2Ft@host/x.git"
    result = CliRunner().invoke(app, ["init", "-f", str(manifest), "--repo", repo])
    assert result.exit_code == 0, result.output
    text = manifest.read_text()
    assert "s3cr" not in text
    assert 'url: !env "https://alice:${MY_LIB_TOKEN}@host/x.git"' in text
