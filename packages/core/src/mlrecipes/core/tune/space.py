"""A search space: what each ``tune -S`` item asks for, and its Optuna distributions.

A dimension is a float interval, an integer range, a choice, or a fixed value.
Sampled values go back to the pipeline as ordinary ``-S`` overrides, written so
that the manifest's YAML scalar rules read back exactly the sampled value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import Manifest, apply_overrides, parse_value
from mlrecipes.core.suggest import did_you_mean
from mlrecipes.core.tune.grammar import Call, Node, Override, Text, fail, parse

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

Scalar = str | int | float | bool | None
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_PLAIN = re.compile(r"[A-Za-z_][\w.\-/]*")
FUNCTIONS = ("choice", "range", "interval", "int", "tag")
TAGS = ("log",)
MAX_GRID_POINTS = 100_000
"""The most points ``--sampler grid`` takes (each is held in memory to be shuffled)."""


@dataclass(frozen=True)
class FloatDim:
    key: str
    low: float
    high: float
    log: bool = False

    def describe(self) -> str:
        text = f"interval({self.low!r}, {self.high!r})"
        return f"tag(log, {text})" if self.log else text


@dataclass(frozen=True)
class IntDim:
    """Integers ``low..high`` (both included) by ``step``."""

    key: str
    low: int
    high: int
    step: int = 1
    log: bool = False

    def describe(self) -> str:
        if self.log:
            return f"tag(log, int(interval({self.low}, {self.high})))"
        step = f", {self.step}" if self.step != 1 else ""
        return f"range({self.low}, {self.high + self.step}{step})"

    def span(self) -> range:
        """The values, lazily (a range may hold more values than memory)."""
        return range(self.low, self.high + 1, self.step)


@dataclass(frozen=True)
class ChoiceDim:
    key: str
    choices: tuple[Scalar, ...]

    def describe(self) -> str:
        return f"choice({', '.join(format_value(c) for c in self.choices)})"


@dataclass(frozen=True)
class Fixed:
    """A plain value: passed to every trial as written."""

    key: str
    text: str

    def describe(self) -> str:
        return self.text


Dimension = FloatDim | IntDim | ChoiceDim | Fixed


@dataclass(frozen=True)
class SearchSpace:
    dims: tuple[Dimension, ...]

    @property
    def searched(self) -> tuple[FloatDim | IntDim | ChoiceDim, ...]:
        return tuple(d for d in self.dims if not isinstance(d, Fixed))

    def describe(self) -> dict[str, str]:
        """Each key as Hydra's grammar writes it (what MLflow and the study record)."""
        return {d.key: d.describe() for d in self.dims}

    def overrides(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The ``-S`` overrides of one trial: the fixed values, then the sampled ones."""
        fixed = [f"{d.key}={d.text}" for d in self.dims if isinstance(d, Fixed)]
        sampled = [f"{d.key}={format_value(params[d.key])}" for d in self.searched]
        return (*fixed, *sampled)

    def distributions(self) -> dict[str, BaseDistribution]:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        found: dict[str, BaseDistribution] = {}
        for d in self.searched:
            if isinstance(d, FloatDim):
                found[d.key] = FloatDistribution(d.low, d.high, log=d.log)
            elif isinstance(d, IntDim):
                found[d.key] = IntDistribution(d.low, d.high, log=d.log, step=d.step)
            else:
                found[d.key] = CategoricalDistribution(d.choices)
        return found

    def grid(self) -> dict[str, list[Scalar]]:
        """The values of every key for the grid sampler; intervals have none.

        A grid of more than :data:`MAX_GRID_POINTS` points is refused before any
        is made (each point is held in memory to be shuffled).
        """
        sizes: dict[str, int] = {}
        for d in self.searched:
            if isinstance(d, FloatDim) or (isinstance(d, IntDim) and d.log):
                raise UserError(
                    f"the grid sampler cannot search {d.key}={d.describe()}",
                    hint="give it choice(...) or range(...), or use the `sampler` tpe or random",
                )
            sizes[d.key] = len(d.span()) if isinstance(d, IntDim) else len(d.choices)
        if (points := math.prod(sizes.values())) > MAX_GRID_POINTS:
            raise UserError(
                f"the grid has {points:,} points, more than {MAX_GRID_POINTS:,}",
                hint="narrow the range(...) or choice(...) values, or use --sampler tpe or random",
            )
        return {
            d.key: list(d.span()) if isinstance(d, IntDim) else list(d.choices)
            for d in self.searched
            if not isinstance(d, FloatDim)
        }

    def check(self, manifest: Manifest) -> None:
        """Raise ``OverrideError`` (with did-you-mean) for a key that names no parameter."""
        apply_overrides(manifest, {d.key: _example(d) for d in self.dims})


def parse_space(items: Sequence[str]) -> SearchSpace:
    """The search space that ``-S`` items describe; raises ``SearchSpaceError``."""
    dims: list[Dimension] = []
    seen: set[str] = set()
    for item in items:
        override = parse(item)
        if override.key in seen:
            raise fail(item, 1, f"{override.key!r} is given twice", hint="give each key once")
        seen.add(override.key)
        dims.append(_dimension(override))
    space = SearchSpace(tuple(dims))
    if not space.searched:
        raise UserError(
            "nothing to search: every -S value is fixed",
            hint="give a range, e.g. -S 'train.lr=tag(log, interval(1e-4, 1e-1))'",
        )
    return space


def format_value(value: Scalar) -> str:
    """``value`` as override text that the manifest's YAML rules read back unchanged."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if _PLAIN.fullmatch(value) and parse_value("value", value) == value:
        return value
    return json.dumps(value)  # a JSON string is a YAML double-quoted string


def _example(dim: Dimension) -> str:
    if isinstance(dim, Fixed):
        return dim.text
    if isinstance(dim, ChoiceDim):
        return format_value(dim.choices[0])
    return format_value(dim.low)


def _dimension(ov: Override) -> Dimension:
    if len(ov.elements) > 1:  # Hydra's simple sweep `a,b,c` is a choice
        return ChoiceDim(ov.key, _choices(ov, ov.elements))
    node = ov.elements[0]
    if isinstance(node, Text):
        return Fixed(ov.key, ov.value_text)
    return _from_call(ov, node, log=False)


def _from_call(ov: Override, call: Call, *, log: bool) -> Dimension:
    if call.name == "choice":
        if log:
            raise fail(ov.source, call.column, "tag(log, ...) applies to interval(...) only")
        return ChoiceDim(ov.key, _choices(ov, call.args, at=call.column))
    if call.name == "range":
        if log:
            raise fail(ov.source, call.column, "tag(log, ...) applies to interval(...) only")
        return _range(ov, call)
    if call.name == "interval":
        low, high = _bounds(ov, call, integers=False)
        return FloatDim(ov.key, float(low), float(high), log=_log_ok(ov, call, low, log))
    if call.name == "int":
        inner = _single_call(ov, call, "interval", "int(interval(low, high))")
        low, high = _bounds(ov, inner, integers=True)
        return IntDim(ov.key, int(low), int(high), log=_log_ok(ov, inner, low, log))
    if call.name == "tag":
        return _tag(ov, call)
    raise fail(
        ov.source,
        call.column,
        f"unknown function {call.name!r}",
        hint=did_you_mean(call.name, FUNCTIONS),
    )


def _tag(ov: Override, call: Call) -> Dimension:
    if len(call.args) < 2 or not isinstance(call.args[-1], Call):
        raise fail(ov.source, call.column, "expected tag(log, interval(low, high))")
    for tag in call.args[:-1]:
        if not isinstance(tag, Text) or tag.text not in TAGS:
            name = tag.text if isinstance(tag, Text) else tag.name
            raise fail(ov.source, tag.column, f"unknown tag {name!r}", hint="the tag is log")
    return _from_call(ov, call.args[-1], log=True)


def _single_call(ov: Override, call: Call, name: str, shape: str) -> Call:
    if len(call.args) != 1 or not isinstance(call.args[0], Call) or call.args[0].name != name:
        raise fail(ov.source, call.column, f"expected {shape}")
    return call.args[0]


def _log_ok(ov: Override, call: Call, low: float, log: bool) -> bool:
    if log and low <= 0:
        raise fail(ov.source, call.column, f"a log scale needs low > 0, got {low!r}")
    return log


def _bounds(ov: Override, call: Call, *, integers: bool) -> tuple[float, float]:
    if len(call.args) != 2:
        raise fail(ov.source, call.column, f"expected {call.name}(low, high)")
    low, high = (_number(ov, arg, integers=integers) for arg in call.args)
    if not low < high:
        raise fail(ov.source, call.column, f"low must be below high, got {low!r} and {high!r}")
    return low, high


def _range(ov: Override, call: Call) -> IntDim:
    if not 1 <= len(call.args) <= 3:
        raise fail(ov.source, call.column, "expected range(start, stop[, step])")
    numbers = [int(_number(ov, arg, integers=True)) for arg in call.args]
    if len(numbers) == 1:
        numbers.insert(0, 0)
    if len(numbers) == 3 and numbers[2] == 0:
        raise fail(ov.source, call.args[2].column, "the step of a range cannot be 0")
    values = range(*numbers)  # never a list: range(0, 10**12) is a fine search space
    if not values:
        raise fail(ov.source, call.column, f"range{tuple(numbers)!r} is empty (stop is exclusive)")
    step = abs(numbers[2]) if len(numbers) == 3 else 1
    return IntDim(ov.key, min(values[0], values[-1]), max(values[0], values[-1]), step=step)


def _number(ov: Override, node: Node, *, integers: bool) -> float:
    text = node.text if isinstance(node, Text) else ""
    if _INT.fullmatch(text):
        return int(text)
    if not integers and _FLOAT.fullmatch(text):
        return float(text)
    kind = "an integer" if integers else "a number"
    hint = "use interval(low, high) for floats" if integers and _FLOAT.fullmatch(text) else None
    raise fail(ov.source, node.column, f"expected {kind}", hint=hint)


def _choices(ov: Override, nodes: Sequence[Node], *, at: int = 0) -> tuple[Scalar, ...]:
    if not nodes:
        raise fail(ov.source, at, "choice() needs at least one value")
    values: list[Scalar] = []
    for node in nodes:
        if isinstance(node, Call):
            raise fail(ov.source, node.column, f"a choice cannot hold {node.name}(...)")
        value = _scalar(ov, node)
        if any(type(v) is type(value) and v == value for v in values):  # 1 == True
            raise fail(ov.source, node.column, f"{node.text} is given twice in the choice")
        values.append(value)
    return tuple(values)


def _scalar(ov: Override, node: Text) -> Scalar:
    """Python's number syntax first (so 1e-4 is a float), then the manifest's YAML rules."""
    if _INT.fullmatch(node.text):
        return int(node.text)
    if _FLOAT.fullmatch(node.text):
        return float(node.text)
    value = parse_value(ov.key, node.text)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise fail(ov.source, node.column, "a choice holds scalars (numbers, strings, booleans)")
