"""The ``tune -S`` grammar: what parses to what, and where each error points."""

from __future__ import annotations

import pytest

from mlrecipes.core.errors import SearchSpaceError, UserError
from mlrecipes.core.manifest import parse_value
from mlrecipes.core.tune.space import (
    ChoiceDim,
    Fixed,
    FloatDim,
    IntDim,
    format_value,
    parse_space,
)


@pytest.mark.parametrize(
    ("item", "dim"),
    [
        ("train.lr=interval(1e-4, 1e-1)", FloatDim("train.lr", 1e-4, 1e-1)),
        ("train.lr=tag(log, interval(1e-4, 1e-1))", FloatDim("train.lr", 1e-4, 1e-1, log=True)),
        ("train.depth=range(2, 8)", IntDim("train.depth", 2, 7)),
        ("train.depth=range(2,8,2)", IntDim("train.depth", 2, 6, step=2)),
        ("train.depth=range(8, 2, -3)", IntDim("train.depth", 5, 8, step=3)),
        ("train.depth=range(4)", IntDim("train.depth", 0, 3)),
        ("train.n=int(interval(1, 9))", IntDim("train.n", 1, 9)),
        ("train.n=tag(log, int(interval(1, 64)))", IntDim("train.n", 1, 64, log=True)),
        ("model.kind=choice(gbm, linear)", ChoiceDim("model.kind", ("gbm", "linear"))),
        ("model.kind=gbm,linear", ChoiceDim("model.kind", ("gbm", "linear"))),
        ("a=choice(1, 2.5, true, 'x y')", ChoiceDim("a", (1, 2.5, True, "x y"))),
        ("a=int(range(1, 3))", IntDim("a", 1, 2)),  # Hydra's cast of a range keeps it
        ("a=choice(1e-3, 1e-2)", ChoiceDim("a", (1e-3, 1e-2))),
        ("seed=7", Fixed("seed", "7")),
        ("layers=[64, 32]", Fixed("layers", "[64, 32]")),
        ("+train.opt.momentum=0.9", Fixed("+train.opt.momentum", "0.9")),
        ("  train.lr =  interval( 0.1 , 0.2 ) ", FloatDim("train.lr", 0.1, 0.2)),
    ],
)
def test_parses(item: str, dim: object) -> None:
    space = parse_space([item, "other=choice(1, 2)"])
    assert space.dims[0] == dim


@pytest.mark.parametrize(
    ("item", "column", "reason"),
    [
        ("train.lr", 9, "expected KEY=VALUE"),
        ("=3", 1, "the key before '=' is empty"),
        ("a=", 3, "expected a value"),
        ("a=  ", 5, "expected a value"),
        ("a=interval(1e-4,)", 17, "no viable alternative"),
        ("a=interval(1, 2", 16, "no viable alternative"),
        ("a=intervall(1, 2)", 3, "unknown function 'intervall'"),
        ("a=choice(1, sort(2, 3))", 13, "unknown function 'sort'"),
        ("a=interval(1, x)", 3, "str is incompatible"),
        ("a=interval(2, 1)", 3, "low must be below high"),
        ("a=interval(1)", 3, "missing a required argument"),
        ("a=range(1.5, 3)", 3, "range(...) takes integers only"),
        ("a=range(3, 3)", 3, "is empty (stop is exclusive)"),
        ("a=range(1, 5, 0)", 3, "the step of a range cannot be 0"),
        ("a=tag(lg, interval(1, 2))", 3, "unknown tag 'lg'"),
        ("a=tag(log, interval(0, 2))", 3, "a log scale needs low > 0"),
        ("a=tag(log, choice(1, 2))", 3, "applies to interval(...) only"),
        ("a=tag(log)", 3, "Last argument to tag() must be"),
        ("a=choice()", 3, "empty choice is not legal"),
        ("a=choice(1, 1)", 3, "1 is given twice in the choice"),
        ("a=choice(1, null)", 3, "NoneType is incompatible"),
        ("a=choice(1, interval(1, 2))", 3, "IntervalSweep is incompatible"),
        ("a=choice('x, 2)", 10, "token recognition error"),
        ("a=choice([1, 2)", 15, "no viable alternative"),
        ("a=(1, 2)", 3, "extraneous input '('"),
        ("a=choice(1, 2) x", 15, "mismatched input ' ' expecting <EOF>"),
        ("a=choice(1, 2))", 3, "extraneous input ')' expecting <EOF>"),
        (" k =  choice(1, 2", 18, "no viable alternative"),
    ],
)
def test_error_points_at_the_problem(item: str, column: int, reason: str) -> None:
    with pytest.raises(SearchSpaceError) as caught:
        parse_space([item])
    error = caught.value
    assert reason in error.reason
    assert (error.override, error.column) == (item, column)
    # the message shows the override with a caret under the column
    lines = error.message.splitlines()
    assert lines[0].startswith(f"-S {item!r}: column {column}: ")
    assert lines[1] == f"    {item}" and lines[2] == " " * (3 + column) + "^"


def test_hints_for_near_misses() -> None:
    with pytest.raises(SearchSpaceError) as caught:
        parse_space(["a=chioce(1, 2)"])
    assert caught.value.hint == "did you mean 'choice'?"
    with pytest.raises(SearchSpaceError) as caught:
        parse_space(["a=range(0.1, 1)"])
    assert caught.value.hint is not None and "interval" in caught.value.hint


def test_a_key_given_twice_is_an_error() -> None:
    with pytest.raises(SearchSpaceError, match="given twice"):
        parse_space(["a=choice(1, 2)", "a=3"])


def test_a_space_with_nothing_to_search_is_an_error() -> None:
    with pytest.raises(UserError, match="nothing to search"):
        parse_space(["a=1", "b=x"])


@pytest.mark.parametrize(
    "value",
    [1e-05, 0.1, 3.0, 1e20, -2.5, 7, -3, True, False, None, "gbm", "a b", "1", "true", "a,b"],
)
def test_sampled_values_read_back_unchanged(value: object) -> None:
    """What a trial passes as ``-S key=text`` is read back by the manifest's YAML rules."""
    text = format_value(value)  # type: ignore[arg-type]
    assert "," not in text or text.startswith('"')  # never split into a sweep
    assert parse_value("k", text) == value
    assert type(parse_value("k", text)) is type(value)


def test_trial_overrides_and_description() -> None:
    space = parse_space(["seed=7", "train.lr=tag(log, interval(1e-4, 1e-1))", "m=choice(a, b)"])
    assert space.overrides({"train.lr": 0.001, "m": "b"}) == ("seed=7", "train.lr=0.001", "m=b")
    assert space.describe() == {
        "seed": "7",
        "train.lr": "tag(log, interval(0.0001, 0.1))",
        "m": "choice(a, b)",
    }


def test_grid_needs_discrete_dimensions() -> None:
    assert parse_space(["a=range(1, 4)", "b=choice(x, y)"]).grid() == {
        "a": [1, 2, 3],
        "b": ["x", "y"],
    }
    with pytest.raises(UserError, match="grid sampler cannot search"):
        parse_space(["a=interval(0, 1)"]).grid()
