"""Summaries of finished pipeline runs, kept in the workspace so ``exp show`` need not
ask MLflow for runs it has already read.

``.mlrecipes/runs/summaries-<key>.json`` (one file per tracking store and
experiment) maps a parent run id to the :class:`PipelineRunRow` MLflow returned
for it and the stamp the run had then (see
:mod:`mlrecipes.core.tracking.sqlite_listing`). A summary is used only while the
store still lists the run with the same stamp; anything else is read from
MLflow again. Only runs in a terminal status are kept: a running one changes.

The file is a cache, never a source of truth: a summary that cannot be read
(another format, a row with other fields) is simply read from MLflow again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mlrecipes.core.atomic import write_json_atomic
from mlrecipes.core.tracking.queries import PipelineRunRow

FORMAT = 1
_FIELDS = sorted(f.name for f in dataclasses.fields(PipelineRunRow))
_TIMES = ("start_time", "end_time")


@dataclasses.dataclass(frozen=True)
class Summary:
    stamp: str
    row: PipelineRunRow


def summaries_file(runs_dir: Path, tracking_uri: str, experiment: str) -> Path:
    key = hashlib.sha256(f"{tracking_uri}\n{experiment}".encode()).hexdigest()[:16]
    return runs_dir / f"summaries-{key}.json"


def load_summaries(path: Path) -> dict[str, Summary]:
    """The summaries in ``path`` by run id; none when it is missing or of another format."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != [FORMAT, _FIELDS]:
        return {}
    found: dict[str, Summary] = {}
    for run_id, entry in data.get("runs", {}).items():
        try:
            found[run_id] = Summary(entry["stamp"], _row(entry["row"]))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def save_summaries(path: Path, summaries: Mapping[str, Summary]) -> None:
    runs = {
        run_id: {"stamp": s.stamp, "row": _plain(s.row)} for run_id, s in sorted(summaries.items())
    }
    write_json_atomic(path, {"format": [FORMAT, _FIELDS], "runs": runs}, indent=None)


def _plain(row: PipelineRunRow) -> dict[str, Any]:
    plain = dataclasses.asdict(row)
    for name in _TIMES:
        plain[name] = plain[name].isoformat() if plain[name] is not None else None
    return plain


def _row(plain: Mapping[str, Any]) -> PipelineRunRow:
    values = dict(plain)
    for name in _TIMES:
        values[name] = datetime.fromisoformat(values[name]) if values[name] else None
    values["dirty"] = tuple(values["dirty"])
    return PipelineRunRow(**values)
