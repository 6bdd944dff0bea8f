"""Hydra's sweep grammar for ``tune -S``, read by a small recursive-descent parser.

What it reads (the part of Hydra's grammar a search space needs)::

    override  := KEY "=" value
    value     := element ("," element)*       # two or more elements: a choice
    element   := call | primitive
    call      := NAME "(" [element ("," element)*] ")"
    primitive := quoted string | [flow list] | {flow map} | bare text

The calls: ``choice(a, b, ...)``, ``range(start, stop[, step])`` (integers, stop
exclusive as in Hydra and Python), ``interval(low, high)`` (floats),
``int(interval(low, high))`` and ``tag(log, interval(...))``. A value without a
call and without a top-level comma is fixed: it is passed to the run as written.

Every error names the override and the 1-based column of the problem, with a caret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlrecipes.core.errors import SearchSpaceError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STOP = ",()"  # bare text ends at these (outside quotes and brackets)
_CLOSE = {"[": "]", "{": "}"}


@dataclass(frozen=True)
class Text:
    """A primitive as written (quotes kept), at ``column`` of the override."""

    text: str
    column: int


@dataclass(frozen=True)
class Call:
    """``name(args...)`` at ``column``."""

    name: str
    args: tuple[Node, ...]
    column: int


Node = Text | Call


@dataclass(frozen=True)
class Override:
    """One parsed ``-S`` item: its key, the raw value text and the value's elements."""

    source: str
    key: str
    value_text: str
    value_column: int
    elements: tuple[Node, ...]


def fail(source: str, column: int, message: str, *, hint: str | None = None) -> SearchSpaceError:
    """The error for ``source`` (the whole ``-S`` item) at a 1-based ``column``."""
    return SearchSpaceError(message, override=source, column=column, hint=hint)


def parse(source: str) -> Override:
    """Parse one ``-S KEY=VALUE`` item; raises :class:`SearchSpaceError`."""
    key, sep, _ = source.partition("=")
    if not sep:
        raise fail(source, len(source) + 1, "expected KEY=VALUE", hint="e.g. -S train.lr=0.01")
    if not key.strip():
        raise fail(source, 1, "the key before '=' is empty", hint="e.g. -S train.lr=0.01")
    parser = _Parser(source, len(key) + 1)
    elements = parser.value()
    start = len(key) + 1
    return Override(source, key.strip(), source[start:].strip(), start + 1, elements)


class _Parser:
    def __init__(self, source: str, pos: int) -> None:
        self.source = source
        self.pos = pos  # 0-based index into source

    def error(self, message: str, *, at: int | None = None, hint: str | None = None) -> Exception:
        return fail(self.source, (self.pos if at is None else at) + 1, message, hint=hint)

    def peek(self) -> str:
        self.skip_space()
        return self.source[self.pos] if self.pos < len(self.source) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.source) and self.source[self.pos].isspace():
            self.pos += 1

    def value(self) -> tuple[Node, ...]:
        elements = self.elements()
        if self.peek():
            raise self.error(f"unexpected {self.peek()!r}")
        return elements

    def elements(self) -> tuple[Node, ...]:
        found = [self.element()]
        while self.peek() == ",":
            self.pos += 1
            found.append(self.element())
        return tuple(found)

    def element(self) -> Node:
        char = self.peek()
        start = self.pos
        if char in ("", ",", ")"):
            raise self.error("expected a value")
        if char == "(":
            raise self.error("'(' without a function name before it")
        name = _NAME.match(self.source, self.pos)
        if name is not None:
            self.pos = name.end()
            if self.peek() == "(":
                return self.call(name.group(), start)
            self.pos = start
        return Text(self.primitive(), start + 1)

    def call(self, name: str, start: int) -> Call:
        self.pos += 1  # the "("
        args: tuple[Node, ...] = ()
        if self.peek() != ")":
            args = self.elements()
        if self.peek() != ")":
            where = "the end" if not self.peek() else repr(self.peek())
            raise self.error(f"expected ')' to close {name}( at column {start + 1}, found {where}")
        self.pos += 1
        return Call(name, args, start + 1)

    def primitive(self) -> str:
        start = self.pos
        while self.pos < len(self.source) and self.source[self.pos] not in _STOP:
            char = self.source[self.pos]
            if char in "'\"":
                self.quoted(char)
            elif char in _CLOSE:
                self.bracketed(char)
            else:
                self.pos += 1
        return self.source[start : self.pos].strip()

    def quoted(self, quote: str) -> None:
        end = self.source.find(quote, self.pos + 1)
        if end < 0:
            raise self.error(f"unterminated string: no closing {quote}")
        self.pos = end + 1

    def bracketed(self, opening: str) -> None:
        start, depth = self.pos, 0
        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char in "'\"":
                self.quoted(char)
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return
            self.pos += 1
        raise self.error(f"unclosed {opening!r}: no matching {_CLOSE[opening]!r}", at=start)
