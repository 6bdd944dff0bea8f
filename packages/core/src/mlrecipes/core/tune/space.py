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
from mlrecipes.core.tune.grammar import Override, fail, parse

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

Scalar = str | int | float | bool | None
_PLAIN = re.compile(r"[A-Za-z_][\w.\-/]*")
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
                hint="narrow the range(...) or choice(...) values, or use `sampler` tpe or random",
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
            "nothing to search: every value of the space is fixed",
            hint="give a range, e.g. `train.lr=tag(log, interval(1e-4, 1e-1))` in `space`",
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
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    value = ov.value
    if isinstance(value, ChoiceSweep | RangeSweep | IntervalSweep):
        unknown = sorted(set(value.tags) - set(TAGS))
        if unknown:
            raise fail(
                ov.source, ov.value_column, f"unknown tag {unknown[0]!r}", hint="the tag is log"
            )
    if isinstance(value, IntervalSweep):
        return _interval(ov, value.start, value.end, log="log" in value.tags)
    if "log" in getattr(value, "tags", ()):
        raise fail(ov.source, ov.value_column, "tag(log, ...) applies to interval(...) only")
    if isinstance(value, RangeSweep):
        return _range(ov, value.start, value.stop, value.step)
    if isinstance(value, ChoiceSweep):
        return ChoiceDim(ov.key, _choices(ov, value.list))
    return Fixed(ov.key, ov.value_text)


def _interval(ov: Override, low: float | None, high: float | None, *, log: bool) -> Dimension:
    if low is None or high is None or not low < high:
        raise fail(ov.source, ov.value_column, f"low must be below high, got {low!r} and {high!r}")
    if log and low <= 0:
        raise fail(ov.source, ov.value_column, f"a log scale needs low > 0, got {low!r}")
    if isinstance(low, int) and isinstance(high, int):  # int(interval(...))
        return IntDim(ov.key, low, high, log=log)
    return FloatDim(ov.key, float(low), float(high), log=log)


def _range(ov: Override, start: Any, stop: Any, step: Any) -> IntDim:
    numbers = (start, stop, step)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        hint = "use interval(low, high) for floats"
        raise fail(ov.source, ov.value_column, "range(...) takes integers only", hint=hint)
    if step == 0:
        raise fail(ov.source, ov.value_column, "the step of a range cannot be 0")
    values = range(start, stop, step)  # never a list: range(0, 10**12) is a fine search space
    if not values:
        raise fail(ov.source, ov.value_column, f"{ov.value_text} is empty (stop is exclusive)")
    return IntDim(ov.key, min(values[0], values[-1]), max(values[0], values[-1]), step=abs(step))


def _choices(ov: Override, items: Sequence[Any]) -> tuple[Scalar, ...]:
    values: list[Scalar] = []
    for value in items:
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise fail(
                ov.source, ov.value_column, "a choice holds scalars (numbers, strings, booleans)"
            )
        if any(type(v) is type(value) and v == value for v in values):  # 1 == True
            raise fail(ov.source, ov.value_column, f"{value!r} is given twice in the choice")
        values.append(value)
    return tuple(values)
