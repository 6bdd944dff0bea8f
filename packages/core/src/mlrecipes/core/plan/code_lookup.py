"""The second level of the store lookup: entries whose code record vouches for now.

A step whose exact fingerprint has no entry may still have one made with the
same key without code (:attr:`StepIdentity.code_free_key`): when the record of
what that execution read in the checkouts still holds (:func:`codedeps.verify`),
its outputs are what this execution would produce, and the step is cached at
that entry's fingerprint. Anything else leaves it to the tree rule, with a
reason that says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlrecipes.core.codedeps import Checkouts, CodeRecord, verify
from mlrecipes.core.store.local import Store

_CANDIDATES = 8  # newest entries tried; older ones rarely match what changed since
_SHOWN = 3  # changed files named in a reason


@dataclass(frozen=True)
class CodeLookup:
    """A hit (``fingerprint`` of the entry to use) or why the tree rule applies."""

    fingerprint: str | None = None
    note: str | None = None
    """Hit: which files were checked; miss: what changed, or why no record could tell."""
    changed: bool = False
    """True when a record named what changed (the note lists files)."""


def lookup_by_code(store: Store, step: str, code_key: str, checkouts: Checkouts) -> CodeLookup:
    """The newest entry of ``step`` under ``code_key`` whose record holds for ``checkouts``."""
    first: CodeLookup | None = None
    for fingerprint in store.code_candidates(step, code_key)[:_CANDIDATES]:
        found = _check(store, step, fingerprint, checkouts)
        if found.fingerprint is not None:
            return found
        first = first or found
    return first or CodeLookup(note="tree rule: no earlier execution recorded what it read")


def _check(store: Store, step: str, fingerprint: str, checkouts: Checkouts) -> CodeLookup:
    entry = store.read_record(step, fingerprint)
    if entry is None:
        return CodeLookup(note="tree rule: its last entry is gone")
    if entry.code is None:
        return CodeLookup(note="tree rule: its entry has no record of what it read")
    try:
        record = CodeRecord.from_json(entry.code)
    except ValueError:
        return CodeLookup(note="tree rule: the record of what it read is damaged")
    if not record.vouches:
        return CodeLookup(note=f"tree rule: the step {record.unseen[0]}")
    changes = verify(record, checkouts)
    if changes:
        more = f" and {len(changes) - _SHOWN} more" if len(changes) > _SHOWN else ""
        return CodeLookup(note=", ".join(changes[:_SHOWN]) + more, changed=True)
    what = f"{len(record.files)} file{'s' if len(record.files) != 1 else ''}"
    return CodeLookup(fingerprint, f"no file it read changed ({what} checked)")
