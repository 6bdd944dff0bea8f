"""Did-you-mean suggestions for names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A hint naming the closest candidate, else the list of valid names."""
    pool = sorted(candidates)
    best = closest(name, pool)
    if best is not None:
        return f"did you mean {best!r}?"
    if not pool:
        return "there is none defined"
    shown = ", ".join(pool[:10]) + (", ..." if len(pool) > 10 else "")
    return f"expected one of: {shown}"
