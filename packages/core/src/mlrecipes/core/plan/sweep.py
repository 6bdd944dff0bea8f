"""DVC-style ``-S KEY=VALUE`` overrides, and sweeps over comma-separated values.

``-S train.lr=0.1,0.01 -S seed=1,2`` is the product of both lists: four
variants, in a stable order (the first key varies slowest). A comma inside
brackets or quotes does not split (``-S train.layers=[64,32]`` is one value).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from mlrecipes.core.errors import OverrideError


def _split_values(text: str) -> list[str]:
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_override(item: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2`` as the key and its list of raw values."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(
            f"override {item!r} is not KEY=VALUE",
            key=key or item,
            hint="give `overrides` as KEY=VALUE, e.g. `train.lr=0.01`",
        )
    values = _split_values(value)
    if any(v == "" for v in values) and len(values) > 1:
        raise OverrideError(f"override {item!r} has an empty value in its list", key=key)
    return key, values


MAX_VARIANTS = 1000
"""Above this many variants a sweep needs an explicit yes (a typo such as
``-S lr=$(seq ...)`` should not plan 90,000 runs)."""


def expand_overrides(
    items: Sequence[str], *, max_variants: int | None = MAX_VARIANTS
) -> list[dict[str, str]]:
    """Every variant (one mapping of key to raw value each) that ``items`` ask for.

    More than ``max_variants`` raises :class:`OverrideError` (None: no limit).
    """
    keys: list[str] = []
    choices: list[list[str]] = []
    for item in items:
        key, values = parse_override(item)
        if key in keys:
            raise OverrideError(f"override {key!r} given twice", key=key, hint="give it once")
        keys.append(key)
        choices.append(values)
    count = math.prod(len(values) for values in choices)
    if max_variants is not None and count > max_variants:
        raise OverrideError(
            f"this sweep has {count:,} variants, more than {max_variants:,}",
            key=keys[0],
            hint="check the lists of values; to run them all, confirm with `large_sweep=True`",
        )
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)]
