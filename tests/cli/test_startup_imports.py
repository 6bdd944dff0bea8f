"""CLI start-up stays cheap: heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import subprocess
import sys

# What `import mlrecipes.cli.main` must not pull in (each costs 20-250 ms or, for mlflow, seconds).
LAZY = ("git", "networkx", "packaging", "filelock", "importlib.metadata", "mlflow", "optuna")


def _loaded_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nprint(' '.join(m for m in {LAZY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _loaded_after("import mlrecipes.cli.main") == []


def test_networkx_comes_with_the_first_graph() -> None:
    code = (
        "from mlrecipes.core.graph import StepGraph\n"
        "assert 'networkx' not in sys.modules\n"
        "StepGraph({}).order()"
    )
    assert "networkx" in _loaded_after(code)  # the script itself fails if it came earlier


def test_version_still_prints() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mlrecipes.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("mlrecipes ")
