"""The stdlib-only step runner, run as a script by a real interpreter."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.executors import runner, step_runner
from mlrecipes.core.executors.task import StepTask

from .conftest import TaskFactory


def run_spec(task: StepTask, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    entry = tmp_path / "entry"
    result = tmp_path / "result.json"
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(runner.build_spec(task, entry=entry, result=result)))
    proc = subprocess.run(
        runner.runner_argv(task.python, spec_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    data = json.loads(result.read_text()) if result.exists() else {}
    return proc.returncode, data, proc.stderr


def test_binds_params_and_paths_and_returns_metrics(make_task: TaskFactory, tmp_path: Path) -> None:
    task = make_task("write", params={"n": 7, "tag": 'é"\\\n'}, outputs={"out": "sub/dir/o.txt"})
    code, data, _ = run_spec(task, tmp_path)
    assert code == 0
    # bool metrics become 1.0 (documented); outputs' parent folders were created
    assert data == {"ok": True, "metrics": {"n": 7.0, "converged": 1.0}}
    assert (tmp_path / "entry/sub/dir/o.txt").read_text() == 'é"\\\n:7'


def test_function_defaults_fill_unset_params(make_task: TaskFactory, tmp_path: Path) -> None:
    code, data, _ = run_spec(make_task("kw_only", params={"a": 1}), tmp_path)
    assert (code, data["metrics"]) == (0, {"sum": 3.0})


def test_none_means_no_metrics(make_task: TaskFactory, tmp_path: Path) -> None:
    code, data, _ = run_spec(make_task("nothing", params={"x": 1}), tmp_path)
    assert (code, data) == (0, {"ok": True, "metrics": {}})


def test_raising_step_reports_traceback(make_task: TaskFactory, tmp_path: Path) -> None:
    code, data, stderr = run_spec(make_task("boom", params={"n": 3}), tmp_path)
    assert code == runner.EXIT_RAISED
    assert data["ok"] is False and data["kind"] == "raised"
    assert data["error"] == "ValueError: boom 3"
    assert "in inner" in data["traceback"]
    assert "ValueError: boom 3" in stderr


@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        ({"a": 1, "c": 2}, ["passes 'c', which it does not accept", "it takes: a, b"]),
        ({"b": 1}, ["requires 'a', which the manifest does not set"]),
    ],
)
def test_signature_mismatch_names_the_names(
    make_task: TaskFactory, tmp_path: Path, params: dict[str, int], fragments: list[str]
) -> None:
    code, data, stderr = run_spec(make_task("kw_only", params=params), tmp_path)
    assert code == runner.EXIT_CALL_ERROR
    assert data["kind"] == "signature"
    assert data["error"].startswith("step 'kw_only (repo@abc1234)': mod.kw_only()")
    for fragment in fragments:
        assert fragment in data["error"]
    assert "\n" not in data["error"]
    assert data["error"] in stderr


def test_decorated_function_checked_through_inspect(
    make_task: TaskFactory, repo: Path, tmp_path: Path
) -> None:
    (repo / "deco.py").write_text(
        "import functools\n"
        "def deco(f):\n"
        "    @functools.wraps(f)\n"
        "    def wrapper(*a, **k):\n"
        "        return f(*a, **k)\n"
        "    return wrapper\n"
        "@deco\n"
        "def step(x: int) -> dict:\n"
        "    return {'x': x}\n"
    )
    task = make_task("step", params={"y": 1})
    task = StepTask(**{**task.__dict__, "module": "deco"})
    code, data, _ = run_spec(task, tmp_path)
    assert code == runner.EXIT_CALL_ERROR
    assert "passes 'y'" in data["error"] and "requires 'x'" in data["error"]


@pytest.mark.parametrize(
    ("func", "fragment"), [("returns_list", "returned list"), ("bad_metric", "'name': str")]
)
def test_other_return_values_are_noted_and_ignored(
    make_task: TaskFactory, tmp_path: Path, func: str, fragment: str
) -> None:
    code, data, stderr = run_spec(make_task(func, params={"x": 1}), tmp_path)
    assert code == runner.EXIT_OK
    assert data == {"ok": True, "metrics": {}}
    assert "mlrecipes: note:" in stderr and fragment in stderr


def test_missing_module_and_function(make_task: TaskFactory, tmp_path: Path) -> None:
    task = make_task("nope", params={})
    code, data, _ = run_spec(task, tmp_path)
    assert code == runner.EXIT_CALL_ERROR
    assert "module 'mod' has no function 'nope'" in data["error"]
    task = StepTask(**{**task.__dict__, "module": "missing_mod"})
    code, data, _ = run_spec(task, tmp_path)
    assert data["kind"] == "import" and "No module named 'missing_mod'" in data["error"]


def test_runner_folder_does_not_shadow_repo_modules(
    make_task: TaskFactory, repo: Path, tmp_path: Path
) -> None:
    # step_runner.py lives next to runner.py and task.py; a repo module named `store` must win.
    (repo / "store.py").write_text("def step() -> dict:\n    return {'mine': 1}\n")
    task = StepTask(**{**make_task("step").__dict__, "module": "store"})
    code, data, _ = run_spec(task, tmp_path)
    assert (code, data["metrics"]) == (0, {"mine": 1.0})


VALUES: list[Any] = [
    {},
    [],
    {"a": [1, 2.5, -3e-7, 1e300, True, False, None], "b": {"c": ""}},
    'quote " back \\ slash / nl \n tab \t ctl \x01 é 😀 \u2028',
    [float("inf"), float("-inf"), -0.0, 12345678901234567890],
    {"nested": [[[]], [{}], {"k": [{"x": "y"}]}]},
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("indent", [None, 2])
def test_json_reader_matches_json(value: Any, ensure_ascii: bool, indent: int | None) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    assert step_runner.loads(text) == json.loads(text)
    assert repr(step_runner.loads(text)) == repr(json.loads(text))  # -0.0, int vs float


def test_json_reader_nan_and_errors() -> None:
    assert math.isnan(step_runner.loads("NaN"))
    for bad in ['{"a": 1', "[1 2]", '"open', "1 2"]:
        with pytest.raises((ValueError, IndexError)):
            step_runner.loads(bad)


def test_result_writer_round_trips(tmp_path: Path) -> None:
    metrics = {'we"ird\\key\n': 1.5, "nan": float("nan"), "inf": float("-inf"), "é": 1e-300}
    path = tmp_path / "r.json"
    step_runner._write_ok(str(path), metrics)
    data = json.loads(path.read_text())
    assert data["ok"] is True
    assert math.isnan(data["metrics"].pop("nan"))
    assert data["metrics"] == {k: v for k, v in metrics.items() if k != "nan"}


def test_runner_imports_stdlib_only() -> None:
    tree = ast.parse(Path(step_runner.__file__).read_text())
    top = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed_non_stdlib = {"__future__"}
    assert {m for m in top if m.split(".")[0] not in sys.stdlib_module_names} <= allowed_non_stdlib


def test_call_snippet_runs_standalone(make_task: TaskFactory, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("abc")
    task = make_task("upper", inputs={"src": src}, outputs={"out": "o/out.txt"})
    snippet = runner.render_call_snippet(task, out_dir=tmp_path / "call")
    proc = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "{'chars': 3}"
    assert (tmp_path / "call/o/out.txt").read_text() == "ABC"
    assert "import mod" in snippet and "mod.upper(" in snippet


def test_call_snippet_literals() -> None:
    for value in [{"a": [1, 2.5, None, True]}, "x'y\"", float("inf"), -float("inf")]:
        assert eval(runner._py_literal(value)) == value  # noqa: S307 (the point of the test)
    assert math.isnan(eval(runner._py_literal(float("nan"))))  # noqa: S307


def test_a_repo_folder_shadowed_by_an_installed_package_is_named(
    make_task: TaskFactory, repo: Path, tmp_path: Path
) -> None:
    """Issue 25 item 5: `test/` without `__init__.py` is a namespace package; the
    standard library's regular `test` package wins, and the message says so."""
    stdlib_test = subprocess.run(
        [sys.executable, "-c", "import test; print(test.__file__)"], capture_output=True, text=True
    )
    if stdlib_test.returncode != 0:
        pytest.skip("this Python has no standard-library `test` package")
    (repo / "test").mkdir()
    (repo / "test" / "steps.py").write_text("def step() -> dict:\n    return {}\n")
    task = StepTask(**{**make_task("step").__dict__, "module": "test.steps"})
    code, data, _ = run_spec(task, tmp_path)
    assert code == runner.EXIT_CALL_ERROR and data["kind"] == "import"
    error = data["error"]
    assert "'test' is " + stdlib_test.stdout.strip() in error, error
    assert "test/__init__.py" in error and "namespace package" in error, error
