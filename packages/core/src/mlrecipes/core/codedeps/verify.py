"""Does a record still vouch for the checkouts as they are now?"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlrecipes.core.codedeps.record import CodeRecord
from mlrecipes.core.codedeps.state import MISSING, blob_sha, listing_digest, shadowing

Checkouts = Mapping[str, Path]
"""Repo name -> its checkout folder now."""


def _shown(repo: str, rel: str) -> str:
    return repo if rel == "." else f"{repo}/{rel}"


def verify(record: CodeRecord, checkouts: Checkouts) -> list[str]:
    """What changed in ``checkouts`` among what ``record`` holds (empty: it vouches).

    Each change reads like ``feats/hello.py``, ``feats/util.py (new: could shadow
    import util)`` or ``feats/data (listing changed)``. The first changes found
    are enough: the check stops after a few.
    """
    changes: list[str] = []
    for repo, rel, sha in record.files:
        if repo not in checkouts:
            return [f"repo {repo} (no longer in the workspace)"]
        now = blob_sha(checkouts[repo] / rel)
        if now != sha:
            gone = " (deleted)" if now == MISSING else " (new)" if sha == MISSING else ""
            changes.append(_shown(repo, rel) + gone)
    for repo, folder, name, found in record.searches:
        if repo not in checkouts:
            return [f"repo {repo} (no longer in the workspace)"]
        now_found = shadowing(checkouts[repo] / folder, name)
        for extra in sorted(set(now_found) - set(found)):
            changes.append(
                f"{_shown(repo, _join(folder, extra))} (new: could shadow import {name})"
            )
        for lost in sorted(set(found) - set(now_found)):
            changes.append(f"{_shown(repo, _join(folder, lost))} (deleted)")
    for repo, folder, digest in record.listings:
        if repo not in checkouts:
            return [f"repo {repo} (no longer in the workspace)"]
        if listing_digest(checkouts[repo] / folder) != digest:
            changes.append(f"{_shown(repo, folder)} (listing changed)")
    return list(dict.fromkeys(changes))


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"
