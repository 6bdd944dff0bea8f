"""Two `run`s of one workspace at once execute each step once (issue 25 item 21)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.helpers.waiting import wait_for
from tests.helpers.workspaces import CLI, cli, executions, make_one_repo_workspace

from mlrecipes.core import Workspace

pytestmark = pytest.mark.slow

GATED = {
    "g.py": """
import time
from pathlib import Path


def gate(flag: str, counter: str, out: Path) -> dict:
    with open(counter, "a") as fh:
        fh.write("gate\\n")
    while not Path(flag).exists():  # held until the test releases it
        time.sleep(0.05)
    out.write_text("gated")
    return {"v": 1.0}
"""
}


def test_two_concurrent_runs_execute_a_step_once(tmp_path: Path, blank_mlflow_db: Path) -> None:
    from tests.helpers.mlflow_db import seed_mlflow_db

    flag = tmp_path / "release"
    manifest = make_one_repo_workspace(
        tmp_path,
        GATED,
        "twice",
        f"""
        gate:
          fn: "g:g.gate"
          params: {{flag: "{flag}", counter: "{manifest_counter(tmp_path)}"}}
          outs: {{out: !path out/gated.txt}}
        """,
        repo="g",
        head="paths: {out: outputs}\n",
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    Workspace.load(manifest).sync()
    logs = [tmp_path / f"run{i}.out" for i in (1, 2)]
    procs = []
    for log in logs:
        with log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [*CLI, "run", "-f", str(manifest)],
                    cwd=manifest.parent,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        # One executes the step; the other says it waits for it.
        wait_for(lambda: executions(manifest) == ["gate"])
        wait_for(lambda: any("another run is executing it" in p.read_text() for p in logs))
        assert executions(manifest) == ["gate"]
        flag.touch()
        codes = [proc.wait(timeout=120) for proc in procs]
    finally:
        flag.touch()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outputs = [p.read_text() for p in logs]
    assert codes == [0, 0], outputs
    assert executions(manifest) == ["gate"]  # executed once, reused by the other run
    assert sorted("cached" in out.split("gate (g@")[-1] for out in outputs) == [False, True]
    assert (manifest.parent / "outputs" / "gated.txt").read_text() == "gated"
    again = cli("run", "-f", str(manifest), cwd=manifest.parent)
    assert again.returncode == 0 and executions(manifest) == ["gate"], again.stdout


def manifest_counter(root: Path) -> str:
    return str(root / "ws" / "counter.log")
