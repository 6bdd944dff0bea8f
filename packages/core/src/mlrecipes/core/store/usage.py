"""Which store entries and environments each pipeline run used: ``<runs>/usage/*.json``.

``run`` writes one record per pipeline run; ``store gc --keep-last N`` keeps what
the last N records name.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.atomic import write_json_atomic

USAGE_DIR = "usage"


@dataclass(frozen=True)
class Usage:
    """What one pipeline run used: ``entries`` as (step, fingerprint), environment keys."""

    entries: frozenset[tuple[str, str]]
    envs: frozenset[str]
    at: float


def write_usage(runs_dir: Path, entries: Iterable[tuple[str, str]], envs: Iterable[str]) -> None:
    now = time.time()
    name = f"{int(now * 1e6):020d}-{secrets.token_hex(3)}.json"
    data = {"at": now, "entries": sorted(set(entries)), "envs": sorted(set(envs))}
    (runs_dir / USAGE_DIR).mkdir(parents=True, exist_ok=True)
    write_json_atomic(runs_dir / USAGE_DIR / name, data)


def recent_usage(runs_dir: Path, count: int) -> list[Usage]:
    """The usage records of the last ``count`` pipeline runs, newest first."""
    folder = runs_dir / USAGE_DIR
    names = sorted((p.name for p in folder.glob("*.json")), reverse=True) if folder.is_dir() else []
    found: list[Usage] = []
    for name in names[: max(count, 0)]:
        try:
            data = json.loads((folder / name).read_text())
            entries = frozenset((str(s), str(f)) for s, f in data["entries"])
            found.append(Usage(entries, frozenset(map(str, data["envs"])), float(data["at"])))
        except (ValueError, KeyError, TypeError):
            continue  # a damaged record keeps nothing: gc errs on the side of older records
    return found
