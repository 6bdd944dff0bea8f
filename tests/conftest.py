"""Shared fixtures: every test runs isolated from the user's git config, caches and cwd."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh cwd, mirror cache and git identity; no inherited GIT_* variables.

    The uv cache is shared on purpose (``UV_CACHE_DIR`` is left alone) so that
    environment tests reuse downloaded wheels.
    """
    for name in list(os.environ):
        if name.startswith("GIT_") or name.startswith("MLFLOW_") or name.startswith("MLRECIPES_"):
            monkeypatch.delenv(name)
    home = tmp_path / "_home"
    home.mkdir()
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test\n\temail = test@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("MLRECIPES_CACHE_DIR", str(tmp_path / "_cache"))
    # No warm tracker outlives a test unless the test asks for one (and stops it).
    monkeypatch.setenv("MLRECIPES_TRACKER_IDLE", "0")
    monkeypatch.delenv("CI", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield


@pytest.fixture(scope="session")
def blank_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow sqlite database, made once per session.

    Creating one runs every schema migration (seconds); tests copy this one.
    """
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("blank-mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments(max_results=1)
    return db


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for ``--dist loadgroup`` (every other test is scheduled on its own).

    Every Ray test runs on one xdist worker: a Ray cluster is heavy, so one at a
    time (each module's cluster ends only its own processes). A module whose tests
    share a module-scoped fixture (a workspace run once, a server) runs on one
    worker too, so that the fixture is set up once, not once per worker.
    """
    tests = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(tests / "ray"):
            item.add_marker(pytest.mark.xdist_group("ray"))
        elif _uses_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(tests).as_posix()))


def _uses_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())
