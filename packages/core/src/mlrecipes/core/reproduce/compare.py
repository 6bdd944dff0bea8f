"""Comparing a reproduction's step metrics with the logged ones, within tolerances.

A metric matches when ``|reproduced - logged| <= atol + rtol * |logged|`` (the
rule of ``math.isclose`` with one-sided ``rtol``, as numpy's ``isclose``); both
NaN counts as a match. A metric present on one side only never matches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricComparison:
    """One row of the comparison table: a metric of a step, logged vs reproduced."""

    step: str
    metric: str
    logged: float | None
    reproduced: float | None
    matches: bool

    @property
    def difference(self) -> float | None:
        """``reproduced - logged``; None when a side is missing."""
        if self.logged is None or self.reproduced is None:
            return None
        return self.reproduced - self.logged

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "metric": self.metric,
            "logged": _json_float(self.logged),
            "reproduced": _json_float(self.reproduced),
            "difference": _json_float(self.difference),
            "matches": self.matches,
        }


def _json_float(value: float | None) -> float | str | None:
    # JSON has no NaN or infinity: keep them readable instead of writing invalid JSON.
    if value is None or math.isfinite(value):
        return value
    return str(value)


def within(logged: float, reproduced: float, *, rtol: float, atol: float) -> bool:
    """Whether ``reproduced`` is ``logged`` within the tolerances (see module doc)."""
    if math.isnan(logged) or math.isnan(reproduced):
        return math.isnan(logged) and math.isnan(reproduced)
    if logged == reproduced:  # also equal infinities
        return True
    return abs(reproduced - logged) <= atol + rtol * abs(logged)


def compare_metrics(
    logged: Mapping[str, Mapping[str, float]],
    reproduced: Mapping[str, Mapping[str, float]],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> tuple[MetricComparison, ...]:
    """Every metric of every step on either side, sorted by step and metric."""
    rows: list[MetricComparison] = []
    for step in sorted(set(logged) | set(reproduced)):
        before, after = logged.get(step, {}), reproduced.get(step, {})
        for metric in sorted(set(before) | set(after)):
            old, new = before.get(metric), after.get(metric)
            ok = old is not None and new is not None and within(old, new, rtol=rtol, atol=atol)
            rows.append(MetricComparison(step, metric, old, new, ok))
    return tuple(rows)
