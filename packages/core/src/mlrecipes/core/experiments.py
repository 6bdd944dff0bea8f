"""``exp show``: the experiment's pipeline runs as flat records (for tables, JSON, CSV)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlrecipes.core._suggest import did_you_mean
from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.tracking import PipelineRunRow, list_pipeline_runs
from mlrecipes.core.tracking.base import TAG_STUDY
from mlrecipes.core.tracking_uri import tracking_uri


def pipeline_runs(
    manifest: Manifest,
    *,
    filter_: str | None = None,
    sort: str | None = None,
    ascending: bool = False,
    limit: int = 50,
    study: str | None = None,
) -> list[PipelineRunRow]:
    """The experiment's parent runs, newest first, or sorted by ``sort``.

    ``sort`` is a metric (``evaluate.auc``, as logged on the parent), a param
    (``params.train.lr``) or ``start_time``; ``filter_`` is MLflow search syntax;
    ``study`` keeps the trials of one ``tune`` study.
    """
    if study is not None:
        quoted = study.replace("'", "\\'")
        where = f"tags.`{TAG_STUDY}` = '{quoted}'"
        filter_ = f"{where} AND {filter_}" if filter_ else where
    order: list[str] = []
    if sort:
        field = sort if sort.startswith(("params.", "metrics.", "attributes.")) else None
        if field is None:
            field = "attributes.start_time" if sort == "start_time" else f"metrics.`{sort}`"
        elif "." in field.split(".", 1)[1]:
            kind, name = field.split(".", 1)
            field = f"{kind}.`{name.strip('`')}`"  # already quoted or not
        order.append(f"{field} {'ASC' if ascending else 'DESC'}")
    rows = list_pipeline_runs(
        tracking_uri(manifest),
        manifest.experiment,
        filter=filter_,
        order_by=order or None,
        max_results=limit,
    )
    _check_sort_metric(sort, rows)
    return rows


def _check_sort_metric(sort: str | None, rows: Sequence[PipelineRunRow]) -> None:
    """Refuse a sort by a metric no run has: MLflow would silently ignore it.

    Runs lacking the metric sort last, so when none of the returned rows has it,
    no run in the experiment (matching the filter) has it.
    """
    if not sort or not rows or sort == "start_time" or sort.startswith(("params.", "attributes.")):
        return
    metric = sort.removeprefix("metrics.").strip("`")
    if any(metric in row.metrics for row in rows):
        return
    known = {name for row in rows for name in row.metrics}
    raise UserError(
        f"cannot sort by {sort!r}: no pipeline run has a metric {metric!r}",
        hint=did_you_mean(metric, known) + " (metrics are named step.metric)",
    )


def as_records(rows: Sequence[PipelineRunRow]) -> list[dict[str, Any]]:
    """One flat mapping per run: id, start, status, overrides, commits, ``step.metric``."""
    records: list[dict[str, Any]] = []
    for row in rows:
        record: dict[str, Any] = {
            "run_id": row.run_id,
            "start_time": row.start_time.isoformat(timespec="seconds"),
            "status": row.status,
            "overrides": " ".join(f"{k}={v}" for k, v in sorted(row.overrides.items())),
        }
        for step in sorted(row.step_metrics):
            for name, value in sorted(row.step_metrics[step].items()):
                record[f"{step}.{name}"] = value
        for repo, commit in sorted(row.commits.items()):
            record[f"{repo}@"] = commit + ("*" if repo in row.dirty else "")
        records.append(record)
    return records


def columns(records: Sequence[dict[str, Any]]) -> list[str]:
    """Every column, in first-seen order (metrics of steps missing in a run stay empty)."""
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(key, None)
    return list(seen)
