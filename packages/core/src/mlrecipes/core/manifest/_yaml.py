"""YAML to a located tree: a per-call ``yaml.SafeLoader`` with the manifest tags.

:func:`parse_yaml` returns plain scalars, :class:`Tagged` values for the five
manifest tags, and :class:`YMap` / :class:`YSeq` containers that remember where
every key and value starts (1-based line and column), so that later checks can
point at the exact place. Every YAML problem (syntax, duplicate key, unknown tag,
non-string key) becomes a located :class:`~mlrecipes.core.errors.Problem`
instead of an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlrecipes.core.errors import Problem
from mlrecipes.core.manifest.model import Location

# The manifest's tags (README "Tags"; the JSON schema's description lists them too):
#   !path ROOT/rel   a file or folder under a root of `paths` (deps, outs)
#   !out STEP.OUT    an output of another step (deps)
#   !param NAME      a global parameter (step params)
#   !env NAME        an environment variable, read at run time, masked when shown
#   !secret TEXT     a plain value masked when shown (logs, MLflow, store, --dry-run)
TAGS = ("!path", "!out", "!param", "!env", "!secret")
_YAML_TAG = "tag:yaml.org,2002:"
_MERGE = _YAML_TAG + "merge"
# Standard tags a safe loader would accept but whose values cannot be hashed or
# persisted stably; a manifest has no use for them.
_REFUSED = ("binary", "set", "omap", "pairs")


@dataclass(frozen=True)
class Tagged:
    """A scalar carrying one of :data:`TAGS`; its text is checked later, in context."""

    tag: str
    text: str
    loc: Location


class Broken:
    """Stands for a value whose problem is already reported."""

    def __repr__(self) -> str:
        return "BROKEN"


BROKEN = Broken()


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` pair of a mapping, with both locations."""

    key: str
    value: YNode
    key_loc: Location
    value_loc: Location


@dataclass
class YMap:
    """A located mapping; ``entries`` keeps the file's order."""

    loc: Location
    entries: dict[str, Entry] = field(default_factory=dict)


@dataclass
class YSeq:
    """A located list; each item with its location."""

    loc: Location
    items: list[tuple[YNode, Location]] = field(default_factory=list)


YNode: TypeAlias = str | int | float | bool | Tagged | YMap | YSeq | Broken | None


# YAML 1.1 (PyYAML) reads `1e-3` as text; YAML 1.2 and every ML user read a number.
_FLOAT_12 = re.compile(r"^[-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+$")


def _timestamp(loader: yaml.SafeLoader, node: Node) -> YNode:
    # A date stays the text the user wrote: datetimes are not JSON values.
    return str(node.value)


# libyaml's parser and composer in C where PyYAML was built with it (about 4x faster
# on a large manifest); its nodes carry the same marks, so locations do not change.
# Construction stays in Python: the located constructors below.
_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 100
"""Deeper nesting is refused: construction recurses, and no manifest needs it."""


class ScalarLoader(_BASE):  # type: ignore[valid-type,misc]
    """The safe loader with the manifest's scalar rules (1.2 floats, dates as text)."""


ScalarLoader.add_implicit_resolver(_YAML_TAG + "float", _FLOAT_12, list("-+0123456789"))
ScalarLoader.add_constructor(_YAML_TAG + "timestamp", _timestamp)


def tag_name(tag: str) -> str:
    """A tag as the user wrote it (``!!python/object`` rather than the long form)."""
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def parse_yaml(text: str, file: Path) -> tuple[YNode, list[Problem]]:
    """Parse one YAML document; return its located tree and the problems found."""
    problems: list[Problem] = []
    if bad := _unreadable(text, file):
        return BROKEN, [bad]
    loader = _loader_class(file, problems)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, problems
        if deep := _too_deep_or_invalid(node, file):
            return BROKEN, [deep]
        return loader.construct_document(node), problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = ", ".join(part for part in (exc.context, exc.problem) if part) or "syntax error"
        problems.append(Problem(file, line, col, f"invalid YAML: {what}", hint=_syntax_hint(what)))
    except yaml.YAMLError as exc:  # e.g. ReaderError: a control character
        problems.append(Problem(file, 1, 1, f"invalid YAML: {exc}"))
    finally:
        loader.dispose()
    return BROKEN, problems


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _unreadable(text: str, file: Path) -> Problem | None:
    """A character YAML refuses to read (NUL, other C0 controls, a lone surrogate), located."""
    match = _UNREADABLE.search(text)
    if match is None:
        return None
    line, col = _line_col(text, match.start())
    char = match.group()
    shown = "a NUL byte" if char == "\0" else f"the character U+{ord(char):04X}"
    return Problem(
        file,
        line,
        col,
        f"invalid YAML: {shown} is not allowed in the file",
        hint="the file looks binary or damaged: remove the character (or restore the file)",
    )


_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _too_deep_or_invalid(root: Node, file: Path) -> Problem | None:
    """Nesting deeper than :data:`MAX_DEPTH`, or a scalar that is not valid Unicode.

    Walked iteratively: the point is to refuse what would overflow the stack.
    Escapes such as ``"\\ud800"`` make lone surrogates, which no JSON or UTF-8
    writer accepts later (MLflow, the lock, the store).
    """
    stack: list[tuple[Node, int]] = [(root, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:  # an alias: checked where it was defined
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            loc = _loc(file, node)
            hint = "flatten the structure; a manifest needs only a few levels"
            return Problem(file, loc.line, loc.col, f"nested more than {MAX_DEPTH} deep", hint=hint)
        if isinstance(node, ScalarNode) and _SURROGATE.search(node.value):
            loc = _loc(file, node)
            hint = "write the character itself, or a valid \\U escape"
            message = "invalid Unicode: a lone surrogate is not text"
            return Problem(file, loc.line, loc.col, message, hint=hint)
        if isinstance(node, SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _syntax_hint(what: str) -> str:
    if "'\\t'" in what or "tab" in what:
        return "indent with spaces, not tabs"
    if "expected a single document" in what:
        return "a manifest is one YAML document: remove the extra `---`"
    return "check the indentation and quoting around this place"


def _loc(file: Path, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


_Constructor: TypeAlias = Callable[[yaml.SafeLoader, Node], YNode]


def _loader_class(file: Path, problems: list[Problem]) -> type[yaml.SafeLoader]:
    """A fresh SafeLoader subclass whose constructors report into ``problems``."""

    def report(node: Node, message: str, hint: str | None = None) -> None:
        loc = _loc(file, node)
        problems.append(Problem(file, loc.line, loc.col, message, hint=hint))

    def tagged(loader: yaml.SafeLoader, node: Node) -> YNode:
        if not isinstance(node, ScalarNode):
            kind = "a mapping" if isinstance(node, MappingNode) else "a list"
            report(node, f"{node.tag} takes a single text value, not {kind}")
            return BROKEN
        return Tagged(node.tag, str(node.value), _loc(file, node))

    def unknown(loader: yaml.SafeLoader, node: Node) -> YNode:
        report(
            node,
            f"unknown tag {tag_name(node.tag)!r}",
            hint="a manifest accepts only the tags " + ", ".join(TAGS),
        )
        return BROKEN

    def sequence(loader: yaml.SafeLoader, node: Node) -> YNode:
        assert isinstance(node, SequenceNode)  # noqa: S101 - registered for seq only
        seq = YSeq(_loc(file, node))
        for item in node.value:
            seq.items.append((loader.construct_object(item, deep=True), _loc(file, item)))
        return seq

    def mapping(loader: yaml.SafeLoader, node: Node) -> YNode:
        assert isinstance(node, MappingNode)  # noqa: S101 - registered for map only
        return _construct_map(loader, node, file, report)

    class _ManifestLoader(ScalarLoader):
        """Built per call, so the constructors can close over this call's problems."""

    constructors: dict[str | None, _Constructor] = {tag: tagged for tag in TAGS}
    constructors[_YAML_TAG + "map"] = mapping
    constructors[_YAML_TAG + "seq"] = sequence
    constructors.update({_YAML_TAG + name: unknown for name in _REFUSED})
    constructors[None] = unknown
    for tag, fn in constructors.items():
        _ManifestLoader.add_constructor(tag, fn)
    return _ManifestLoader


def _construct_map(
    loader: yaml.SafeLoader,
    node: MappingNode,
    file: Path,
    report: Callable[[Node, str, str | None], None],
) -> YMap:
    own_count = sum(1 for key, _ in node.value if key.tag != _MERGE)
    loader.flatten_mapping(node)  # expands `<<: *anchor`; merged pairs come first
    merged_count = len(node.value) - own_count
    ymap = YMap(_loc(file, node))
    own_keys: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Broken):  # an unknown tag on a key: reported already
            continue
        if not isinstance(key, str):
            shown = key_node.value if isinstance(key_node, ScalarNode) else "?"
            report(key_node, f"a key must be text, got {shown!r}", "quote the key")
            continue
        if index >= merged_count:  # the mapping's own keys override merged ones
            if key in own_keys:
                first = ymap.entries[key].key_loc.line
                report(key_node, f"duplicate key {key!r} (first at line {first})", None)
                continue
            own_keys.add(key)
        value = loader.construct_object(value_node, deep=True)
        ymap.entries[key] = Entry(key, value, _loc(file, key_node), _loc(file, value_node))
    return ymap
