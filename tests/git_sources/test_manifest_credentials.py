"""Credentials in a manifest URL (`!env` with `${TOKEN}`) reach git, and nothing else.

The whole stack: manifest -> workspace sync (checkout, uv environment, lock) ->
run (MLflow tags) against an authenticated HTTP git server on 127.0.0.1.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.workspaces import make_repo
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import Workspace

SECRET = "s3cr3t-T0KEN-xyz"  # noqa: S105 - the test server's password, on purpose

pytestmark = pytest.mark.slow


def _manifest(tmp_path: Path, url: str) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    manifest = ws / "workspace.yaml"
    manifest.write_text(
        textwrap.dedent(
            f"""
            version: 1
            name: creds
            repos:
              app:
                url: !env "{url}"
                rev: main
            steps:
              noop:
                fn: app:app_mod.noop
            """
        )
    )
    return manifest


def _all_text(folder: Path) -> str:
    chunks: list[str] = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 2_000_000:
            chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def test_token_from_env_never_reaches_lock_logs_or_mlflow(
    tmp_path: Path, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a repo of this test's own, beside the session's upstreams that the server serves
    name = f"creds-{tmp_path.name}"
    make_repo(http_server.project_root / name, {"app_mod.py": "def noop() -> None:\n    pass\n"})
    monkeypatch.setenv("TOKEN", SECRET)
    manifest = _manifest(tmp_path, f"{http_server.url.replace('//', '//ci:${TOKEN}@')}/{name}")
    result = CliRunner().invoke(app, ["-v", "run", "-f", str(manifest)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    lock = (manifest.parent / "workspace.lock").read_text()
    assert SECRET not in lock and f"url: {http_server.url}/{name}" in lock
    assert SECRET not in _all_text(manifest.parent / ".mlrecipes")
    assert SECRET not in _all_text(tmp_path / "_cache")
    tags = Workspace.load(manifest).run()  # up to date: the run id of the logged run
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tags.tracking_uri).get_run(tags.run_ids[0])
    assert all(SECRET not in value for value in run.data.tags.values())


def test_wrong_token_fails_fast_without_echoing_it(
    tmp_path: Path, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "wrong-" + SECRET)
    manifest = _manifest(tmp_path, f"{http_server.url.replace('//', '//ci:${TOKEN}@')}/app")
    result = CliRunner().invoke(app, ["workspace", "sync", "-f", str(manifest)])
    assert result.exit_code == 1
    assert SECRET not in result.output and "Traceback" not in result.output
    assert "app" in result.output


@pytest.mark.parametrize(
    "token",
    ["Zq1/Zq2#Zq3?Zq4", "Zq1%2FZq2%23Zq3", "Zq1@Zq2/Zq3", "Zq1:Zq2/Zq3"],
    ids=["raw", "encoded", "at", "colon"],
)
def test_a_token_with_url_delimiters_never_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    """Issue 16 item 1: `/`, `#`, `?` in a token once leaked through "Port could not be cast"."""
    manifest = _manifest(tmp_path, "https://ci:${TOKEN}@127.0.0.1:9/x.git")
    monkeypatch.setenv("TOKEN", token)
    for args in (["workspace", "sync"], ["-v", "workspace", "sync"], ["-v", "run"]):
        result = CliRunner().invoke(app, [*args, "-f", str(manifest)])
        assert result.exit_code == 1, result.output
        assert "Zq" not in result.output, result.output  # no piece of the token
        assert "internal error" not in result.output
    assert token not in _all_text(tmp_path / "ws")
