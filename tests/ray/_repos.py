"""Two "repos", each with its own virtual environment, and tasks that call into them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrecipes.core.executors.task import StepTask

FEATURES = """
import os
import signal
import sys
import time
from pathlib import Path


def part(out: Path, n: int, seconds: float = 0.0) -> dict:
    time.sleep(seconds)
    out.write_text(f"{n}|{sys.prefix}|{os.environ.get('MLRECIPES_RAY_NODE_ID', '')}")
    return {"n": n}


def sleepy(started: str, seconds: float = 120.0) -> None:
    Path(started + ".tmp").write_text(str(os.getpid()))
    os.replace(started + ".tmp", started)
    time.sleep(seconds)


def stubborn(started: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleepy(started)
"""

MODELS = """
import sys
from pathlib import Path


def join(a: Path, b: Path, out: Path) -> dict:
    out.write_text(a.read_text() + "\\n" + b.read_text() + "\\n" + sys.prefix)
    return {"parts": 2}


def boom(a: Path) -> None:
    raise ValueError("boom from the models repo")
"""


@dataclass(frozen=True)
class Repo:
    name: str
    root: Path
    python: Path


def make_repo(base: Path, name: str, module: str, source: str) -> Repo:
    """A folder with ``module.py`` and its own venv (``uv venv``: fast, offline)."""
    root = base / name
    root.mkdir(parents=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    env = base / f"{name}-env"
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [str(uv) if uv.exists() else "uv", "venv", "--quiet", "--python", sys.executable, str(env)],
        check=True,
        capture_output=True,
    )
    return Repo(name, root, env / "bin" / "python")


def task(
    repo: Repo,
    module: str,
    func: str,
    key: str,
    *,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Path] | None = None,
    outputs: Mapping[str, str] | None = None,
    needs: tuple[str, ...] = (),
) -> StepTask:
    return StepTask(
        key=key,
        step=key,
        fingerprint=f"{key}fp",
        python=repo.python,
        cwd=repo.root,
        module=module,
        func=func,
        params=dict(params or {}),
        inputs=dict(inputs or {}),
        outputs=dict(outputs or {}),
        needs=needs,
        label=f"{key} ({repo.name}@abc1234)",
    )
