"""The parent side of the step runner: specs, command lines, call snippets.

The child side, :mod:`mlrecipes.core.executors.step_runner`, is a stdlib-only
script that runs inside a repo's environment (which has no mlrecipes): it is
executed by path and never imports this module.
"""

from __future__ import annotations

import json
import keyword
import os
import tempfile
from pathlib import Path
from typing import Any

from mlrecipes.core.executors import step_runner
from mlrecipes.core.executors.step_runner import (
    EXIT_CALL_ERROR,
    EXIT_OK,
    EXIT_RAISED,
    SPEC_VERSION,
)
from mlrecipes.core.executors.task import StepTask

__all__ = [
    "EXIT_CALL_ERROR",
    "EXIT_OK",
    "EXIT_RAISED",
    "build_spec",
    "render_call_snippet",
    "runner_argv",
    "runner_path",
    "write_spec",
]


def runner_path() -> Path:
    """Absolute path of the child script, to pass to a repo environment's interpreter."""
    return Path(step_runner.__file__).resolve()


def runner_argv(python: Path | str, spec_path: Path | str, *, pdb: bool = False) -> list[str]:
    """The command line that runs one spec (``--pdb`` for post-mortem debugging)."""
    argv = [str(python), str(runner_path()), str(spec_path)]
    return [*argv, "--pdb"] if pdb else argv


def build_spec(
    task: StepTask, *, entry: Path, result: Path, observed: Path | None = None
) -> dict[str, Any]:
    """The runner spec of ``task`` writing its outputs under ``entry``.

    With ``observed`` and ``task.code_roots``, the runner records what the step
    read inside those checkouts into ``observed`` (see :mod:`.step_runner`).
    """
    spec: dict[str, Any] = {
        "version": SPEC_VERSION,
        "step": task.step,
        "label": task.label or task.step,
        "module": task.module,
        "func": task.func,
        "cwd": str(task.cwd),
        "params": dict(task.params),
        "inputs": {name: str(path) for name, path in task.inputs.items()},
        "outputs": {name: str(entry / rel) for name, rel in task.outputs.items()},
        "result": str(result),
    }
    if observed is not None and task.code_roots:
        roots = sorted(str(path) for path in task.code_roots.values())
        spec["observe"] = {"roots": roots, "record": str(observed)}
    return spec


def write_spec(path: Path, spec: dict[str, Any]) -> None:
    """Write a runner spec readable by its owner only: it holds params in clear,
    secrets included (they reach the step's function and no other place)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(spec, fh)


def render_call_snippet(task: StepTask, *, out_dir: Path | None = None) -> str:
    """A self-contained Python snippet calling the step with its resolved arguments.

    Meant for ``mlrecipes step call``: paste it into an IDE debugger running
    ``task.python``. Outputs go under ``out_dir`` (default: a folder in the
    system temp dir), never into the store.
    """
    if out_dir is None:
        out_dir = Path(tempfile.gettempdir()) / "mlrecipes-call" / task.step
    outputs = {name: out_dir / rel for name, rel in task.outputs.items()}
    lines = [
        f"# interpreter: {task.python}",
        f"# mlrecipes step call: {task.label or task.step}",
        "import os",
        "import sys",
        "from pathlib import Path",
        "",
        f"os.chdir({str(task.cwd)!r})",
        f"sys.path.insert(0, {str(task.cwd)!r})",
        f"import {task.module}",
        "",
    ]
    lines += [
        f"Path({str(p)!r}).parent.mkdir(parents=True, exist_ok=True)" for p in outputs.values()
    ]
    args: dict[str, str] = {name: _py_literal(v) for name, v in task.params.items()}
    args.update({name: f"Path({str(p)!r})" for name, p in task.inputs.items()})
    args.update({name: f"Path({str(p)!r})" for name, p in outputs.items()})
    lines.append(f"result = {task.module}.{task.func}(")
    for name, code in args.items():
        ok_name = name.isidentifier() and not keyword.iskeyword(name)
        lines.append(f"    {name}={code}," if ok_name else f"    **{{{name!r}: {code}}},")
    lines += [")", "print(result)", ""]
    return "\n".join(lines)


def _py_literal(value: Any) -> str:
    """Python source for a JSON-able value (``repr`` except for non-finite floats).

    A secret of the ``code`` view (``python_source``) reads its value from the
    environment instead of showing it.
    """
    source = getattr(value, "python_source", None)
    if isinstance(source, str):
        return source
    if isinstance(value, float) and value != value:
        return "float('nan')"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "float('inf')" if value > 0 else "-float('inf')"
    if isinstance(value, dict):
        items = ", ".join(f"{_py_literal(k)}: {_py_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py_literal(v) for v in value) + "]"
    return repr(value)
