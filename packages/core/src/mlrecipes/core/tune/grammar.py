"""Hydra's sweep grammar for ``tune -S``, read by Hydra's own override parser.

A ``-S KEY=VALUE`` item means what it means to Hydra: ``choice(a, b)`` and
``a,b``, ``range(start, stop[, step])`` (stop exclusive), ``interval(low, high)``,
``int(interval(low, high))`` and ``tag(log, interval(...))``. A value that is not
a sweep is fixed: it is passed to the run as written. hydra-core comes with the
``tune`` extra and is imported only here, when a space is parsed.

Every error names the override and the 1-based column of the problem, with a
caret: the column of the token Hydra's parser refused when it says which, else
the column where the value starts. Two things are refused before Hydra sees the
value: an empty value (Hydra reads ``a=`` as the empty string) and a function
that is not part of a search space (Hydra's ``sort``, ``glob``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlrecipes.core.errors import MissingExtra, SearchSpaceError
from mlrecipes.core.suggest import did_you_mean

FUNCTIONS = ("choice", "range", "interval", "int", "tag")
_CALLS = re.compile(r"'[^']*'|\"[^\"]*\"|([A-Za-z_]\w*)\s*\(")
_PREFIX = "x="  # Hydra parses a whole override; its key is ours to check, not Hydra's
_EXAMPLE = "e.g. `train.lr=0.01`"


@dataclass(frozen=True)
class Override:
    """One parsed ``-S`` item: its key, the value as written and as Hydra read it.

    ``value`` is a Hydra ``ChoiceSweep``, ``RangeSweep`` or ``IntervalSweep``, or a
    plain value (then the item is fixed).
    """

    source: str
    key: str
    value_text: str
    value_column: int
    value: Any


def fail(source: str, column: int, message: str, *, hint: str | None = None) -> SearchSpaceError:
    """The error for ``source`` (the whole ``-S`` item) at a 1-based ``column``."""
    return SearchSpaceError(message, override=source, column=column, hint=hint)


def parse(source: str) -> Override:
    """Parse one ``-S KEY=VALUE`` item; raises :class:`SearchSpaceError`."""
    key, sep, rest = source.partition("=")
    if not sep:
        raise fail(source, len(source) + 1, "expected KEY=VALUE", hint=_EXAMPLE)
    if not key.strip():
        raise fail(source, 1, "the key before '=' is empty", hint=_EXAMPLE)
    value_text = rest.strip()
    column = len(key) + 2 + (len(rest) - len(rest.lstrip()))
    if not value_text:
        raise fail(source, column, "expected a value", hint=_EXAMPLE)
    _check_functions(source, value_text, column)
    value = _hydra_value(source, value_text, column)
    return Override(source, key.strip(), value_text, column, value)


def _check_functions(source: str, text: str, column: int) -> None:
    for found in _CALLS.finditer(text):
        name = found.group(1)
        if name is not None and name not in FUNCTIONS:
            hint = did_you_mean(name, FUNCTIONS)
            raise fail(source, column + found.start(1), f"unknown function {name!r}", hint=hint)


def _hydra_value(source: str, text: str, column: int) -> Any:
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.errors import HydraException
    except ImportError:
        from mlrecipes.core.tune._optuna import install_hint

        message = "`mlrecipes tune` needs hydra-core to read a search space, which is not installed"
        raise MissingExtra(message, extra="tune", hint=install_hint()) from None
    try:
        return OverridesParser.create().parse_override(_PREFIX + text).value()
    except HydraException as error:
        offset = _offset(error.__cause__)
        raise fail(source, column + max(offset - len(_PREFIX), 0), _reason(error)) from None


def _offset(cause: BaseException | None) -> int:
    """Where in the parsed text Hydra's parser stopped, when it says (else 0)."""
    token = getattr(cause, "offendingToken", None)
    if token is not None and getattr(token, "start", -1) >= 0:
        return int(token.start)
    start = getattr(cause, "startIndex", None)
    return int(start) if isinstance(start, int) else 0


def _reason(error: BaseException) -> str:
    """Hydra's message, first line only, without the token list it expected."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    first = re.sub(r" expecting \{.*\}$", "", first)
    return first.replace(f"'{_PREFIX}", "'")
