"""Which pipeline runs an embedded (sqlite) MLflow store holds, read without MLflow.

``exp show`` keeps a summary of every finished pipeline run it has read (see
:mod:`mlrecipes.core.tracking.summaries`). To know whether those summaries still
cover the store, it lists the store's parent runs, each with a *stamp* that
changes when the run does: its status, end time and how many tags and metrics
it has. Importing MLflow and opening its store costs seconds; this query costs
milliseconds.

It reads MLflow's tables (``experiments``, ``runs``, ``tags``,
``latest_metrics``) directly and read-only: they have had these columns since
MLflow 1.x. Any error (another schema, a busy or missing table) gives None, and
the caller asks MLflow instead. A server store (``http://``) cannot be read this
way: runs may come from other machines, so MLflow is always asked there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlrecipes.core.tracking._client import sqlite_path
from mlrecipes.core.tracking.base import KIND_PIPELINE, TAG_KIND

_QUERY = """
SELECT r.run_uuid, r.status, r.start_time, r.end_time,
       (SELECT count(*) FROM tags AS t2 WHERE t2.run_uuid = r.run_uuid),
       (SELECT count(*) FROM latest_metrics AS m WHERE m.run_uuid = r.run_uuid)
FROM runs AS r
JOIN experiments AS e ON e.experiment_id = r.experiment_id
JOIN tags AS k ON k.run_uuid = r.run_uuid AND k.key = ? AND k.value = ?
WHERE e.name = ? AND r.lifecycle_stage = 'active'
"""


@dataclass(frozen=True)
class RunStamp:
    """One parent run as the listing sees it; ``stamp`` changes when the run changes."""

    run_id: str
    status: str
    start_time: int  # milliseconds since the epoch, as MLflow stores it
    stamp: str


def list_pipeline_stamps(tracking_uri: str, experiment: str) -> list[RunStamp] | None:
    """Every active pipeline run of ``experiment``; None when only MLflow can tell."""
    rows = _query(tracking_uri, _QUERY, (TAG_KIND, KIND_PIPELINE, experiment))
    if rows is None:
        return None
    return [
        RunStamp(run_id, status, start or 0, f"{status}:{end}:{n_tags}:{n_metrics}")
        for run_id, status, start, end, n_tags, n_metrics in rows
    ]


def experiment_id(tracking_uri: str, experiment: str) -> str | None:
    """The id of an active experiment of a sqlite store, or None (none, or unknown)."""
    query = "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'"
    rows = _query(tracking_uri, query, (experiment,))
    return str(rows[0][0]) if rows else None


def _query(tracking_uri: str, query: str, args: tuple[str, ...]) -> list[Any] | None:
    """The rows of a read-only query; [] when the store does not exist yet, None on errors."""
    import sqlite3  # only `exp show` and `ui` read the store: not at CLI start-up

    db = sqlite_path(tracking_uri)
    if db is None:
        return None
    if not db.exists():
        return []  # MLflow would create an empty store: nothing in it either way
    try:
        connection = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return connection.execute(query, args).fetchall()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
