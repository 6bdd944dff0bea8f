"""The record of what one step execution read in the checkouts, and its JSON form.

Persisted in the store entry's marker (key ``code``) and on the step's MLflow
run, so its form is a contract::

    {"version": 1,
     "files": [["feats", "feats/hello.py", "<git blob sha>"], ...],
     "listings": [["feats", "data", "<sha256 of the sorted names>"], ...],
     "searches": [["feats", ".", "hello", ["hello.py"]], ...],
     "unseen": ["started a process (subprocess.Popen)"]}

Paths are POSIX, relative to the repo's checkout (``.`` is its root). A file
that did not exist when the step tried it has the SHA ``missing``. A
``searches`` row says the import system looked for module ``hello`` in that
folder and found these entries: a new ``hello.py`` or ``hello/`` there could
shadow the import. ``unseen`` lists why the record cannot vouch for the step;
a record with any is kept (it says why) but never used for a hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlrecipes.core.codedeps.state import blob_sha, listing_digest, shadowing

RECORD_VERSION = 1


@dataclass(frozen=True)
class CodeRecord:
    """What a step read inside the checkouts (see the module docstring)."""

    files: tuple[tuple[str, str, str], ...] = ()
    listings: tuple[tuple[str, str, str], ...] = ()
    searches: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()
    unseen: tuple[str, ...] = field(default=())

    @property
    def vouches(self) -> bool:
        """True when nothing the step did escaped the record."""
        return not self.unseen

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "files": [list(row) for row in self.files],
            "listings": [list(row) for row in self.listings],
            "searches": [[r, d, n, list(found)] for r, d, n, found in self.searches],
            "unseen": list(self.unseen),
        }

    @classmethod
    def from_json(cls, data: Any) -> CodeRecord:
        """Read :meth:`to_json`; raises ``ValueError`` for anything else (a damaged record)."""
        try:
            if data["version"] != RECORD_VERSION:
                raise ValueError(f"code record version {data['version']!r}")
            return cls(
                files=tuple(_strings(row, 3) for row in data["files"]),  # type: ignore[misc]
                listings=tuple(_strings(row, 3) for row in data["listings"]),  # type: ignore[misc]
                searches=tuple(
                    (*_strings(row[:3], 3), _strings(row[3], len(row[3])))  # type: ignore[misc]
                    for row in data["searches"]
                ),
                unseen=_strings(data["unseen"], len(data["unseen"])),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"damaged code record: {exc!r}") from None


def _strings(row: Sequence[Any], size: int) -> tuple[str, ...]:
    if len(row) != size or not all(isinstance(item, str) for item in row):
        raise ValueError(f"damaged code record row: {row!r}")
    return tuple(row)


class _Roots:
    """Absolute paths -> (repo, path relative to its checkout)."""

    def __init__(self, roots: Mapping[str, Path]) -> None:
        pairs = [(name, str(path)) for name, path in roots.items()]
        pairs += [(name, str(path.resolve())) for name, path in roots.items()]
        self.roots = sorted(set(pairs), key=lambda p: -len(p[1]))  # nested roots first

    def locate(self, path: str) -> tuple[str, str] | None:
        for name, root in self.roots:
            if path == root:
                return name, "."
            if path.startswith(root.rstrip("/") + "/"):
                return name, Path(path).relative_to(root).as_posix()
        return None


def hash_observed(observed: Mapping[str, Any], roots: Mapping[str, Path]) -> CodeRecord:
    """The record of what the runner observed (``observe.record``), hashed now.

    Runs in the parent after the step, so the step never pays for hashing.
    Raises ``ValueError`` when ``observed`` is not what the runner writes.
    """
    where = _Roots(roots)
    try:
        unseen = tuple(str(u) for u in observed["unseen"])
        files = _locate_all(where, observed["files"])
        listings = _locate_all(where, observed["listings"])
        searches = [(where.locate(str(d)), str(n)) for d, n in observed["searches"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"unreadable observation: {exc!r}") from None
    path_of = {name: Path(path) for name, path in roots.items()}
    return CodeRecord(
        files=tuple(sorted((r, rel, blob_sha(path_of[r] / rel)) for r, rel in files)),
        listings=tuple(sorted((r, rel, listing_digest(path_of[r] / rel)) for r, rel in listings)),
        searches=tuple(
            sorted(
                (loc[0], loc[1], name, tuple(shadowing(path_of[loc[0]] / loc[1], name)))
                for loc, name in searches
                if loc is not None
            )
        ),
        unseen=tuple(sorted(set(unseen))),
    )


def _locate_all(where: _Roots, paths: Any) -> set[tuple[str, str]]:
    found = {where.locate(str(p)) for p in paths}
    return {loc for loc in found if loc is not None}
