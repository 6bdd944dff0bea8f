"""Fixtures for the execution layer: a "repo" folder with step functions, a store, tasks."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.store.local import Store

STEPS = """
import os
import time
from pathlib import Path


def write(out: Path, n: int = 1, tag: str = "x") -> dict:
    out.write_text(f"{tag}:{n}")
    return {"n": n, "converged": True}


def upper(src: Path, out: Path) -> dict:
    text = src.read_text()
    out.write_text(text.upper())
    return {"chars": len(text)}


def boom(n: int) -> None:
    def inner():
        raise ValueError(f"boom {n}")
    inner()


def nothing(x: int) -> None:
    return None


def returns_list(x: int):
    return [1, 2]


def bad_metric(x: int) -> dict:
    return {"name": "text"}


def make_dir(out: Path, files: int = 3) -> dict:
    out.mkdir()
    for i in range(files):
        (out / f"{i}.txt").write_text(str(i))
    return {"files": files}


def sleepy(out: Path, started: str, seconds: float = 60.0) -> None:
    tmp = Path(started + ".tmp")
    tmp.write_text(str(os.getpid()))
    tmp.replace(started)  # atomic: the test reads the pid as soon as the file appears
    time.sleep(seconds)
    out.write_text("late")


def env_echo(out: Path) -> None:
    out.write_text(os.environ.get("MLFLOW_RUN_ID", "") + "|" + os.environ.get("VIRTUAL_ENV", "-"))


def forgets(out: Path) -> None:
    pass


def kw_only(*, a: int, b: int = 2) -> dict:
    return {"sum": a + b}


def trivial(i: int) -> None:
    pass
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A folder standing in for a repo checkout: ``mod.py`` holds the step functions."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "mod.py").write_text(textwrap.dedent(STEPS))
    return root


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ws" / ".mlrecipes" / "store")


TaskFactory = Callable[..., StepTask]


@pytest.fixture
def make_task(repo: Path) -> TaskFactory:
    """Build a task calling ``mod.<func>`` with the test's interpreter."""

    def make(
        func: str,
        *,
        key: str | None = None,
        step: str | None = None,
        params: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Path] | None = None,
        outputs: Mapping[str, str] | None = None,
        needs: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> StepTask:
        name = step or func
        fp = key or f"{name}fp"
        return StepTask(
            key=fp,
            step=name,
            fingerprint=fp,
            python=Path(sys.executable),
            cwd=repo,
            module="mod",
            func=func,
            params=dict(params or {}),
            inputs=dict(inputs or {}),
            outputs=dict(outputs or {}),
            env=dict(env or {}),
            needs=needs,
            label=f"{name} (repo@abc1234)",
        )

    return make
