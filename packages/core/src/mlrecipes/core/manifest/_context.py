"""Shared state of one structural pass: the problems found and where keys are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlrecipes.core.errors import Problem
from mlrecipes.core.manifest._yaml import Broken, Entry, Tagged, YMap, YNode, YSeq
from mlrecipes.core.manifest.model import Location
from mlrecipes.core.suggest import did_you_mean


def describe(value: YNode) -> str:
    """A value's kind for messages: ``a list``, ``an integer (5)``."""
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YSeq):
        return "a list"
    if isinstance(value, Tagged):
        return f"a {value.tag} value"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if value is None:
        return "nothing (null)"
    if isinstance(value, Broken):
        return "an invalid value"
    return "text"


@dataclass
class Context:
    """Collects problems of one file and the location of every key path."""

    file: Path
    problems: list[Problem] = field(default_factory=list)
    entries: dict[str, Entry] = field(default_factory=dict)
    # Values met while converting parameters: YAML aliases can nest a small file
    # into a huge tree (a "billion laughs"), so conversion stops past this many.
    budget: int = 100_000

    def spend(self, loc: Location, key_path: str) -> bool:
        """Count one value; False (after one report) once the budget is gone."""
        self.budget -= 1
        if self.budget == -1:
            self.report(
                loc,
                "the manifest's values are too large (aliases nested too deep?)",
                key_path,
                "write parameters out instead of nesting YAML aliases",
            )
        return self.budget >= 0

    def report(
        self, loc: Location, message: str, key_path: str = "", hint: str | None = None
    ) -> None:
        self.problems.append(Problem(self.file, loc.line, loc.col, message, key_path, hint))

    def mapping(
        self, value: YNode, loc: Location, key_path: str, what: str = "a mapping"
    ) -> YMap | None:
        """``value`` as a mapping, reporting anything else (an empty value is an empty mapping)."""
        if isinstance(value, YMap):
            return value
        if value is None:
            return YMap(loc)
        if not isinstance(value, Broken):
            self.report(loc, f"expected {what}, got {describe(value)}", key_path)
        return None

    def keys(
        self,
        ymap: YMap,
        key_path: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        owner: Location | None = None,
        extensions: bool = False,
        hints: Mapping[str, str] | None = None,
    ) -> None:
        """Report unknown keys (with did-you-mean) and missing required ones.

        With ``extensions``, keys starting with ``x-`` are ignored: like in
        docker-compose, they hold YAML anchors to reuse elsewhere. ``hints`` name
        the place of a key users put here by mistake, instead of a did-you-mean.
        """
        prefix = f"{key_path}." if key_path else ""
        for entry in ymap.entries.values():
            if extensions and entry.key.startswith("x-"):
                continue
            self.entries[prefix + entry.key] = entry
            if entry.key not in allowed:
                self.report(
                    entry.key_loc,
                    f"unknown key {entry.key!r}",
                    prefix + entry.key,
                    (hints or {}).get(entry.key) or did_you_mean(entry.key, allowed),
                )
        for key in required:
            if key not in ymap.entries:
                where = owner or ymap.loc
                self.report(where, f"missing required key {key!r}", prefix + key)

    def text(self, entry: Entry, key_path: str, hint: str | None = None) -> str | None:
        """The entry's value as text, reporting anything else."""
        if isinstance(entry.value, str):
            return entry.value
        if not isinstance(entry.value, Broken):
            got = describe(entry.value)
            self.report(entry.value_loc, f"expected text, got {got}", key_path, hint)
        return None
