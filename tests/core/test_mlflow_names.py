"""Our copy of MLflow's name rule agrees with MLflow's own functions."""

from __future__ import annotations

import pytest

from mlrecipes.core.manifest.mlflow_names import logged_param_name, mlflow_name_problem

NAMES = [
    "lr",
    "opt.lr",
    "a b/c-d_e.f",
    "lr@epoch=3",
    "bad key!",
    "x" * 250,
    "x" * 251,
    "a//b",
    "/a",
    "./a",
    "..",
    "a/",
    "é",
    "tab\t",
]


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_mlflow(name: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_param

    try:
        _validate_param(name, "v")  # type: ignore[no-untyped-call]
        mlflow_ok = True
    except MlflowException:
        mlflow_ok = False
    assert (mlflow_name_problem(name) is None) == mlflow_ok


def test_colon_is_refused_everywhere_for_portability() -> None:
    assert mlflow_name_problem("a:b") is not None


def test_logged_names() -> None:
    assert logged_param_name("steps.s.params.opt.lr") == "opt.lr"
    assert logged_param_name("params.seed") == "seed"
    assert logged_param_name("steps.s.params.xs[0].a") is None
    assert logged_param_name("steps.s.deps.a") is None
