"""``exp show``: the experiment's pipeline runs as flat records (for tables, JSON, CSV)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.suggest import did_you_mean
from mlrecipes.core.tracking import PipelineRunRow, list_pipeline_runs
from mlrecipes.core.tracking.base import TAG_STUDY, TERMINAL_STATUSES
from mlrecipes.core.tracking.sqlite_listing import list_pipeline_stamps
from mlrecipes.core.tracking.summaries import (
    Summary,
    load_summaries,
    save_summaries,
    summaries_file,
)
from mlrecipes.core.tracking.uri import tracking_uri


def pipeline_runs(
    manifest: Manifest,
    *,
    filter_: str | None = None,
    sort: str | None = None,
    ascending: bool = False,
    limit: int = 50,
    runs_dir: Path | None = None,
    study: str | None = None,
) -> list[PipelineRunRow]:
    """The experiment's parent runs, newest first, or sorted by ``sort``.

    ``sort`` is a metric (``evaluate.auc``, as logged on the parent), a param
    (``params.train.lr``) or ``start_time``; ``filter_`` is MLflow search syntax;
    ``study`` keeps the runs of one ``tune`` study.

    With ``runs_dir`` (the workspace's ``.mlrecipes/runs``) and an embedded sqlite
    store, the runs already read once come from their summaries there (see
    :mod:`mlrecipes.core.tracking.summaries`) and only new or changed runs are read from
    MLflow, whose import alone costs seconds. A filter (MLflow's syntax), a sort by
    ``attributes.*`` or a server store, where other machines log too, always ask
    MLflow.
    """
    uri = tracking_uri(manifest)
    rows = None
    if runs_dir is not None and not filter_ and _sort_field(sort) is not None:
        rows = _from_summaries(uri, manifest.experiment, runs_dir, sort, ascending, limit, study)
    if rows is None:
        rows = list_pipeline_runs(
            uri,
            manifest.experiment,
            filter=" AND ".join(f for f in (_study_filter(study), filter_) if f) or None,
            order_by=_order_by(sort, ascending) or None,
            max_results=limit,
        )
    _check_sort_metric(sort, rows)
    return rows


def _study_filter(study: str | None) -> str | None:
    if study is None:
        return None
    if "'" in study:
        raise UserError(f"study name {study!r} contains a quote", hint="study names are plain")
    return f"tags.`{TAG_STUDY}` = '{study}'"


def _order_by(sort: str | None, ascending: bool) -> list[str]:
    """``sort`` in MLflow's ``order_by`` syntax."""
    if not sort:
        return []
    field = sort if sort.startswith(("params.", "metrics.", "attributes.")) else None
    if field is None:
        field = "attributes.start_time" if sort == "start_time" else f"metrics.`{sort}`"
    elif "." in field.split(".", 1)[1]:
        kind, name = field.split(".", 1)
        field = f"{kind}.`{name.strip('`')}`"  # already quoted or not
    return [f"{field} {'ASC' if ascending else 'DESC'}"]


def _sort_field(sort: str | None) -> tuple[str, str] | None:
    """``(kind, name)`` of a sort the summaries can do (start, metric, param), else None."""
    if not sort or sort == "start_time":
        return ("start", "")
    kind, _, name = sort.partition(".")
    if kind in ("params", "metrics"):
        return (kind.removesuffix("s"), name.strip("`"))
    if kind == "attributes":
        return None
    return ("metric", sort.strip("`"))


def _sorted(rows: list[PipelineRunRow], sort: str | None, ascending: bool) -> list[PipelineRunRow]:
    """Sorted as MLflow would: runs lacking the sort key last, ties newest first."""
    kind, name = _sort_field(sort) or ("start", "")
    newest = sorted(rows, key=lambda r: (r.start_time, r.run_id), reverse=True)
    if kind == "start":
        return newest[::-1] if ascending else newest

    def value(row: PipelineRunRow) -> Any:
        return (row.metrics if kind == "metric" else row.params).get(name)

    present = sorted((r for r in newest if value(r) is not None), key=value, reverse=not ascending)
    return present + [r for r in newest if value(r) is None]


def refresh_summaries(uri: str, experiment: str, runs_dir: Path) -> None:
    """Bring the summaries of the newest runs up to date (reads MLflow for new ones)."""
    _from_summaries(uri, experiment, runs_dir, None, False, 50)


def _from_summaries(
    uri: str,
    experiment: str,
    runs_dir: Path,
    sort: str | None,
    ascending: bool,
    limit: int,
    study: str | None = None,
) -> list[PipelineRunRow] | None:
    """The runs from their summaries, reading from MLflow only those it lacks; None when
    the store cannot be listed without MLflow."""
    listed = list_pipeline_stamps(uri, experiment)
    if listed is None:
        return None
    path = summaries_file(runs_dir, uri, experiment)
    known = load_summaries(path)
    stamps = {s.run_id: s for s in listed}
    keep = {i: s for i, s in known.items() if i in stamps and stamps[i].stamp == s.stamp}
    wanted = listed
    if _sort_field(sort) == ("start", "") and study is None:  # the first `limit` are enough
        wanted = sorted(listed, key=lambda s: s.start_time, reverse=not ascending)[:limit]
    missing = [s.run_id for s in wanted if s.run_id not in keep]
    fetched = _fetch(uri, experiment, missing)
    rows = [keep[s.run_id].row for s in wanted if s.run_id in keep] + fetched
    for row in fetched:
        stamp = stamps[row.run_id]
        if stamp.status in TERMINAL_STATUSES and row.status == stamp.status:
            keep[row.run_id] = Summary(stamp.stamp, row)
    if fetched or keep.keys() != known.keys():
        save_summaries(path, keep)
    if study is not None:
        rows = [row for row in rows if row.tags.get(TAG_STUDY) == study]
    return _sorted(rows, sort, ascending)[:limit]


FETCH_CHUNK = 100  # run ids per search: MLflow's SQL stays short


def _fetch(uri: str, experiment: str, run_ids: Sequence[str]) -> list[PipelineRunRow]:
    """These parent runs, read from MLflow."""
    rows: list[PipelineRunRow] = []
    for start in range(0, len(run_ids), FETCH_CHUNK):
        chunk = run_ids[start : start + FETCH_CHUNK]
        ids = ", ".join(f"'{run_id}'" for run_id in chunk)  # hex ids from the store itself
        rows += list_pipeline_runs(
            uri, experiment, filter=f"attributes.run_id IN ({ids})", max_results=len(chunk)
        )
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
