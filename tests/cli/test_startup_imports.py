"""CLI start-up stays cheap: heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import cli, make_repo, write_files, write_manifest

# What `import mlrecipes.cli.main` must not pull in (each costs 20-250 ms or, for mlflow, seconds).
LAZY = (
    "git",
    "networkx",
    "packaging",
    "filelock",
    "importlib.metadata",
    "mlflow",
    "optuna",
    "hydra",
    "antlr4",
)
# What no read-only command may load, whatever it does (issue 11).
HEAVY = ("mlflow", "git", "networkx", "hydra")

# Runs the real CLI, then prints which HEAVY modules were loaded when the process exits.
WRAPPER = f"""
import atexit, runpy, sys
atexit.register(lambda: print("LOADED:", *[m for m in {HEAVY!r} if m in sys.modules]))
sys.argv = ["mlrecipes", *sys.argv[1:]]
runpy.run_module("mlrecipes.cli", run_name="__main__", alter_sys=True)
"""


def _loaded_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nprint(' '.join(m for m in {LAZY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _loaded_after("import mlrecipes.cli.main") == []


GRAPH = """
from mlrecipes.core.manifest import load_manifest
from mlrecipes.core.manifest.graph import StepGraph
graph = StepGraph.from_manifest(load_manifest({path!r}))
assert graph.order() and graph.cycles() == []
"""


def test_loading_and_ordering_a_graph_imports_no_networkx() -> None:
    """A no-op `run` loads (validates) and orders; networkx (0.2-0.35 s) waits for closures."""
    path = Path(__file__).parents[1] / "core" / "manifests" / "valid_full.yaml"
    code = GRAPH.format(path=str(path))
    assert "networkx" not in _loaded_after(code)
    assert "networkx" in _loaded_after(code + "graph.upstream_closure(['train'])")


def test_only_parsing_a_search_space_imports_hydra() -> None:
    importing = "import mlrecipes.core.tune.space"
    assert "hydra" not in _loaded_after(importing)
    parsing = f"{importing}\nmlrecipes.core.tune.space.parse_space(['a=choice(1, 2)'])"
    assert "hydra" in _loaded_after(parsing)


def test_version_still_prints() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mlrecipes.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("mlrecipes ")


@pytest.fixture(scope="module")
def ran_workspace(tmp_path_factory: pytest.TempPathFactory, blank_mlflow_db: Path) -> Path:
    """A synced workspace of two steps whose pipeline has already run once."""
    root = tmp_path_factory.mktemp("readonly")
    make_repo(root / "up" / "a", {"moda.py": "def f(out, x=None):\n    out.write_text('1')\n"})
    write_files(root / "ws", {".gitignore": ".mlrecipes/\n"})
    manifest = write_manifest(
        root / "ws",
        """
        version: 1
        name: ro
        repos:
          a: {url: ../up/a, rev: main}
        steps:
          first: {fn: "a:moda.f", outs: {out: o.txt}}
          second: {fn: "a:moda.f", deps: {x: !out first.out}, outs: {out: o.txt}}
        """,
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = cli("run", cwd=manifest.parent, env=env)
    assert done.returncode == 0, done.stderr
    return manifest.parent


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("run",),
        ("dag",),
        ("dag", "--format", "mermaid"),
        ("validate",),
        ("workspace", "status"),
        ("--help",),
        ("run", "--help"),
        ("tune", "--help"),
    ],
    ids=" ".join,
)
def test_read_only_commands_load_no_heavy_library(
    ran_workspace: Path, args: tuple[str, ...]
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        cwd=ran_workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    if args == ("run",):
        assert "up to date" in out.stdout + out.stderr
    loaded = out.stdout.rsplit("LOADED:", 1)[1].split()
    assert loaded == []
