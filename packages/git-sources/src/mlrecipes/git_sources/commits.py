"""How a commit is shown to people: one length everywhere, the one ``git log --oneline`` uses."""

from __future__ import annotations

from typing import Final

SHORT_LENGTH: Final = 7


def short_commit(sha: str) -> str:
    """A commit (or any object SHA) as every message shows it: status, update, run, errors."""
    return sha[:SHORT_LENGTH]
