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


def test_the_error_table_imports_no_command_layer() -> None:
    """cli/errors.py (every command imports it) loads core's errors, not the whole core."""
    code = "import mlrecipes.cli.errors\nimport mlrecipes.core.paths\n"
    script = (
        f"{code}print(' '.join(m for m in ('mlrecipes.core.workspace', 'mlrecipes.core.plan"
        ".planner', 'typer', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{script}"], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == []


# Runs the real CLI like WRAPPER, printing which of these modules were loaded at exit.
PROBED = ("typer", "mlrecipes.cli.app", "mlrecipes.core.plan.planner", "mlflow", "networkx")
PROBE = WRAPPER.replace(repr(HEAVY), repr(PROBED))


def _probe(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    printed, loaded = out.stdout.rsplit("LOADED:", 1)
    return printed + out.stderr, loaded.split()


def _tab(words: str, cword: int) -> dict[str, str]:
    """The environment of bash's completion call (click's protocol, as typer sets it up)."""
    return {"_MLRECIPES_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}


@pytest.mark.slow
def test_tab_answers_steps_and_keys_without_the_app(ran_workspace: Path) -> None:
    printed, loaded = _probe(ran_workspace, env=_tab("mlrecipes run fi", 2))
    assert printed.split() == ["first"]
    assert loaded == []
    printed, loaded = _probe(ran_workspace, env=_tab("mlrecipes run -S ", 3))
    assert printed.split() == []  # no step has params here: nothing to offer
    assert loaded == []


def test_tab_keys_of_a_named_manifest(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        """
        version: 1
        name: t
        params: {seed: 1}
        repos: {a: {url: ../a, rev: main}}
        steps:
          train: {fn: "a:m.f", params: {lr: 0.1, epochs: 2}}
        """,
        name="other.yaml",
    )
    printed, loaded = _probe(tmp_path, env=_tab(f"mlrecipes -f {manifest} run -S tr", 5))
    assert printed.split() == ["train.lr=", "train.epochs="]
    assert loaded == []


def test_tab_on_commands_and_options_still_answers(tmp_path: Path) -> None:
    """What the light path does not know, the full app answers (typer's own completion)."""
    printed, loaded = _probe(tmp_path, env=_tab("mlrecipes ru", 1))
    assert printed.split() == ["run", "runs"]
    assert "mlrecipes.cli.app" in loaded
    printed, _ = _probe(tmp_path, env=_tab("mlrecipes run --dry", 2))
    assert printed.split() == ["--dry-run"]


@pytest.mark.slow
def test_a_no_op_run_answers_from_its_stamp_without_the_app(ran_workspace: Path) -> None:
    # What `workspace status` saw upstream (an earlier test) may call for an update
    # hint, which only the full path prints: the fast path steps aside while it exists.
    (ran_workspace / ".mlrecipes" / "upstream.json").unlink(missing_ok=True)
    for _ in range(3):  # an up-to-date run through the full path stamps the next
        printed, loaded = _probe(ran_workspace, "run")
        assert "up to date: run " in printed
        if "typer" not in loaded:
            break
    # Neither typer nor MLflow; the pending-runs check may import the planner module.
    assert [m for m in loaded if m != "mlrecipes.core.plan.planner"] == []


PARAM_STEP = "def f(out, n):\n    out.write_text(str(n))\n    return {'n': float(n)}\n"


@pytest.fixture
def param_workspace(tmp_path: Path, blank_mlflow_db: Path) -> Path:
    """A synced one-step workspace with a param, run once."""
    make_repo(tmp_path / "up" / "a", {"moda.py": PARAM_STEP})
    write_files(tmp_path / "ws", {".gitignore": ".mlrecipes/\n"})
    manifest = write_manifest(
        tmp_path / "ws",
        """
        version: 1
        name: rerun
        paths: {out: out}
        repos:
          a: {url: ../up/a, rev: main}
        steps:
          make: {fn: "a:moda.f", params: {n: 1}, outs: {out: !path out/n.txt}}
        """,
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    done = cli("run", cwd=manifest.parent, env=_no_mlflow_env())
    assert done.returncode == 0, done.stderr
    return manifest.parent


def _no_mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.slow
def test_a_one_param_rerun_runs_without_typer_or_networkx(param_workspace: Path) -> None:
    """``run -S k=v`` (the rerun after changing a param) skips building typer's app and
    draws its pipeline page without networkx; it runs the step all the same."""
    printed, loaded = _probe(param_workspace, "run", "-j", "2", "-S", "make.n=7")
    assert "finished run" in printed and "make" in printed, printed
    assert (param_workspace / "out" / "n.txt").read_text() == "7"
    # (MLflow is there: with MLRECIPES_TRACKER_IDLE=0 the command delivers its runs itself)
    assert {"typer", "mlrecipes.cli.app", "networkx"}.isdisjoint(loaded), loaded
    assert "mlrecipes.core.plan.planner" in loaded  # it did plan: the full run, not the stamp
    # -v still shows the step's live log lines on this path
    verbose, _ = _probe(param_workspace, "run", "-S", "make.n=8", "-v")
    assert "start" in verbose and (param_workspace / "out" / "n.txt").read_text() == "8"


@pytest.mark.slow
def test_errors_on_the_plain_run_path_are_the_full_cli_s(param_workspace: Path) -> None:
    """The same message and exit code with or without typer's app (--fail-fast forces it)."""
    env = _no_mlflow_env()
    fast = cli("run", "-S", "make.nope=1", cwd=param_workspace, env=env)
    full = cli("run", "--fail-fast", "-S", "make.nope=1", cwd=param_workspace, env=env)
    assert fast.returncode == full.returncode == 1, (fast.stderr, full.stderr)
    assert fast.stderr == full.stderr and "nope" in fast.stderr
    assert "Traceback" not in fast.stderr
    missing = cli("run", "nosuch", cwd=param_workspace, env=env)
    assert missing.returncode == 1 and "unknown step 'nosuch'" in missing.stderr
