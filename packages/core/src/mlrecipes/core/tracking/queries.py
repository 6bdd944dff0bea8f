"""Reading pipeline runs back from MLflow (``mlrecipes exp show``, ``reproduce``).

Parent and child runs are told apart by the ``mlrecipes.kind`` tag. Each page of
parents costs one more search for their children's metrics, not one per parent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrecipes.core.errors import TrackingError
from mlrecipes.core.tracking import _client
from mlrecipes.core.tracking.base import (
    ARTIFACTS_DIR,
    KIND_PIPELINE,
    KIND_STEP,
    TAG_KIND,
    TAG_OVERRIDES,
    TAG_PARENT,
    TAG_STEP,
    decode_overrides,
    decode_repo_tags,
    split_step_metric,
    step_metric_name,
    summary_steps,
)
from mlrecipes.git_sources import redact_text, short_commit

PAGE_SIZE = 1000  # MLflow's default and the most a sqlite store gives per page anyway
DEFAULT_ORDER = ("attributes.start_time DESC",)


@dataclass(frozen=True)
class PipelineRunRow:
    """One parent run: what ``mlrecipes exp show`` puts in a table row.

    ``metrics`` and ``params`` are the parent run's own; ``step_metrics`` maps step
    name to that step's metrics; ``commits`` maps repo name to its short commit;
    ``dirty`` names the repos run from a dirty tree.
    """

    run_id: str
    run_name: str
    status: str
    start_time: datetime
    end_time: datetime | None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    step_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    commits: Mapping[str, str] = field(default_factory=dict)
    dirty: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def list_pipeline_runs(
    tracking_uri: str,
    experiment: str,
    *,
    filter: str | None = None,  # shadows the builtin: it is MLflow's word for it
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
) -> list[PipelineRunRow]:
    """Pipeline runs of ``experiment``, newest first unless ``order_by`` says otherwise.

    ``filter`` is MLflow search syntax (``params.`train.lr` = '0.1'``), combined
    with AND. A missing experiment has no runs.
    """
    client = _connect(tracking_uri)
    with _client.translate_errors(tracking_uri, "search pipeline runs"):
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return []
        experiment_id = str(found.experiment_id)
        # MLflow's search syntax has AND only, and no parentheses: appending is safe.
        where = f"tags.`{TAG_KIND}` = '{KIND_PIPELINE}'" + (f" AND {filter}" if filter else "")
        rows: list[PipelineRunRow] = []
        token: str | None = None
        while len(rows) < max_results:
            with _bad_filter(tracking_uri, filter, order_by):
                page = client.search_runs(
                    [experiment_id],
                    filter_string=where,
                    order_by=list(order_by or DEFAULT_ORDER),
                    max_results=min(max_results - len(rows), PAGE_SIZE),
                    page_token=token,
                )
            children = _children_metrics(client, experiment_id, page)
            rows.extend(_row(run, children.get(run.info.run_id, {})) for run in page)
            token = page.token
            if not token or not page:
                break
        return rows


def download_pipeline_artifacts(tracking_uri: str, run_id: str, dest: Path) -> dict[str, Path]:
    """Download a parent run's manifest, lock and params into ``dest``; files by key.

    The keys are those the run was logged with (``manifest``, ``lock``, ``params``).
    """
    client = _connect(tracking_uri)
    with _client.translate_errors(tracking_uri, f"download the artifacts of run {run_id}"):
        _pipeline_run(client, tracking_uri, run_id)
        if not client.list_artifacts(run_id, ARTIFACTS_DIR):
            raise TrackingError(
                f"run {run_id} has no {ARTIFACTS_DIR}/ artifacts",
                uri=redact_text(tracking_uri),
                hint="only runs logged by `mlrecipes run` can be reproduced",
            )
        dest.mkdir(parents=True, exist_ok=True)
        local = Path(client.download_artifacts(run_id, ARTIFACTS_DIR, str(dest)))
    files: dict[str, Path] = {}
    for key_dir in sorted(p for p in local.iterdir() if p.is_dir()):
        inside = sorted(p for p in key_dir.iterdir() if p.is_file())
        if len(inside) == 1:
            files[key_dir.name] = inside[0]
    return files


def find_experiment_id(tracking_uri: str, experiment: str) -> str | None:
    """The id of ``experiment`` in the store, or None when it has none of that name."""
    client = _connect(tracking_uri)
    with _client.translate_errors(tracking_uri, f"find experiment {experiment!r}"):
        found = client.get_experiment_by_name(experiment)
    return None if found is None else str(found.experiment_id)


def get_run_tags(tracking_uri: str, run_id: str) -> dict[str, str]:
    """All tags of one run (parent or child)."""
    client = _connect(tracking_uri)
    with _client.translate_errors(tracking_uri, f"read run {run_id}"):
        return dict(_get_run(client, tracking_uri, run_id).data.tags)


@contextmanager
def _bad_filter(
    tracking_uri: str, filter: str | None, order_by: Sequence[str] | None
) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code != "INVALID_PARAMETER_VALUE" or not (filter or order_by):
            raise
        raise TrackingError(
            f"MLflow rejected the search (filter {filter!r}, order by {order_by!r}): "
            f"{exc.message.splitlines()[0]}",
            uri=redact_text(tracking_uri),
            hint="use MLflow search syntax, e.g. params.`train.lr` = '0.1' AND metrics.auc > 0.8",
        ) from None


def _connect(tracking_uri: str) -> Any:
    client = _client.make_client(tracking_uri)
    _client.check_connection(client, tracking_uri)
    return client


def _get_run(client: Any, tracking_uri: str, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise TrackingError(
            f"no MLflow run {run_id!r} at {redact_text(tracking_uri)}",
            uri=redact_text(tracking_uri),
            hint="list pipeline runs with `mlrecipes exp show`",
        ) from None


def _pipeline_run(client: Any, tracking_uri: str, run_id: str) -> Any:
    run = _get_run(client, tracking_uri, run_id)
    tags = run.data.tags
    if tags.get(TAG_KIND) == KIND_STEP:
        raise TrackingError(
            f"run {run_id} is the run of step {tags.get(TAG_STEP)!r}, not of a pipeline",
            uri=redact_text(tracking_uri),
            hint=f"use its parent run {tags.get(TAG_PARENT)}",
        )
    return run


def _children_metrics(
    client: Any, experiment_id: str, parents: Sequence[Any]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{parent id: {step: metrics}}`` for ``parents``, from one (paged) search.

    Tags cannot be searched with IN, so the search takes every step run started
    within the parents' time span and keeps those whose parent is in the page.
    """
    if not parents:
        return {}
    wanted = {run.info.run_id for run in parents}
    where = (
        f"tags.`{TAG_KIND}` = '{KIND_STEP}'"
        f" AND attributes.start_time >= {min(run.info.start_time for run in parents)}"
    )
    ends = [run.info.end_time for run in parents]
    if all(ends):  # a running parent may still get children
        where += f" AND attributes.start_time <= {max(ends)}"
    found: dict[str, dict[str, dict[str, float]]] = {}
    token: str | None = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=where, max_results=PAGE_SIZE, page_token=token
        )
        for child in page:
            parent = child.data.tags.get(TAG_PARENT)
            if parent in wanted:
                step = child.data.tags.get(TAG_STEP, child.info.run_name)
                metrics = {step_metric_name(step, k): v for k, v in child.data.metrics.items()}
                found.setdefault(parent, {})[step] = metrics
        token = page.token
        if not token or not page:
            return found


def _row(run: Any, step_metrics: dict[str, dict[str, float]]) -> PipelineRunRow:
    tags: dict[str, str] = dict(run.data.tags)
    repos = decode_repo_tags(tags)
    commits = {name: short_commit(r.commit) for name, r in repos.items() if r.commit}
    dirty = [name for name, r in repos.items() if r.dirty]
    return PipelineRunRow(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        status=run.info.status,
        start_time=_time(run.info.start_time) or datetime.fromtimestamp(0, UTC),
        end_time=_time(run.info.end_time),
        overrides=_overrides(tags.get(TAG_OVERRIDES)),
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        step_metrics=_step_metrics(tags, dict(run.data.metrics), step_metrics),
        commits=dict(sorted(commits.items())),
        dirty=tuple(sorted(dirty)),
        tags=tags,
    )


def _step_metrics(
    tags: Mapping[str, str], metrics: Mapping[str, float], children: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Each step's metrics: from the parent's ``<step>.<metric>`` for every step it records
    (``mlrecipes.steps.<step>.*`` tags: cache hits have no child run), then from the
    child runs (runs logged before the parent recorded every step)."""
    steps = summary_steps(tags)
    found: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        split = split_step_metric(key)
        if split is not None and split[0] in steps:
            found.setdefault(split[0], {})[split[1]] = value
    for step, values in children.items():
        found.setdefault(step, {}).update(values)
    return {step: dict(sorted(found[step].items())) for step in sorted(found)}


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def _overrides(text: str | None) -> dict[str, Any]:
    try:
        return decode_overrides(text)
    except ValueError:
        return {"?": text}  # a tag edited by hand: show it rather than fail the table
