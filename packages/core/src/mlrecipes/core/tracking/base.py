"""What a pipeline run tells its tracker: plain data and the :class:`Tracker` protocol.

The orchestrator builds :class:`PipelineInfo` and :class:`StepInfo` (tags, params,
artifacts; see DESIGN.md, "In MLflow") and hands them to a tracker. The real one is
:class:`~mlrecipes.core.tracking.mlflow_tracker.MlflowTracker`; unit tests of callers
use :class:`~mlrecipes.core.tracking.recording.RecordingTracker`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
"""How a run ended; MLflow's terminal statuses."""

TERMINAL_STATUSES: tuple[RunStatus, ...] = ("FINISHED", "FAILED", "KILLED")

# Every MLflow tag key mlrecipes writes or reads back lives here (a persistence
# contract: ``reproduce`` and ``exp show`` read runs logged by older versions).
TAG_KIND = "mlrecipes.kind"
"""``pipeline`` on parent runs, ``step`` on child runs: searches tell them apart by it."""
TAG_STEP = "mlrecipes.step"
TAG_FN = "mlrecipes.fn"
TAG_FINGERPRINT = "mlrecipes.fingerprint"
TAG_CACHE = "mlrecipes.cache"
TAG_SOURCE_RUN = "mlrecipes.source_run_id"
TAG_SKIPPED = "mlrecipes.skipped"
TAG_NOTE = "mlrecipes.note"
"""Why mlrecipes ended a run itself (e.g. its process died)."""
TAG_DIRTY = "mlrecipes.dirty"
TAG_CODE_RECORD = "mlrecipes.code.record"
"""On a step run: what of the checkouts its record holds (``8 files``), or why the tree
rule applies to it (``tree rule: the step started a process (subprocess.Popen)``)."""
TAG_CODE_REASON = "mlrecipes.code.reason"
"""On a step run that ran because its code changed: what changed (``code changed: ...``)."""
CODE_RECORD_ARTIFACT = "mlrecipes/code.json"
"""A step run's code record (mlrecipes.core.codedeps), as its store entry holds it."""
TAG_LOCAL_ID = "mlrecipes.local_id"
"""The id a run had in the outbox before MLflow had it: a redone delivery finds it by this."""
TAG_OVERRIDES = "mlrecipes.overrides"
TAG_FINGERPRINTS = "mlrecipes.fingerprints"
TAG_LOCK_HASH = "mlrecipes.lock_hash"
TAG_MANIFEST = "mlrecipes.manifest"
TAG_WORKSPACE_ROOT = "mlrecipes.workspace_root"
TAG_REPRODUCES = "mlrecipes.reproduces"
TAG_REPO_PREFIX = "mlrecipes.repo."
TAG_STEPS_PREFIX = "mlrecipes.steps."
"""Parent run: ``mlrecipes.steps.<step>.fingerprint|cache|source_run`` for every step."""
TAG_STUDY = "mlrecipes.study"
"""On the parent runs of a ``tune`` study: its name (``exp show --study``)."""
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"
TAG_SOURCE_NAME = "mlflow.source.name"
TAG_SOURCE_COMMIT = "mlflow.source.git.commit"
TAG_SOURCE_REPO_URL = "mlflow.source.git.repoURL"
TAG_SOURCE_TYPE = "mlflow.source.type"
SOURCE_TYPE_PROJECT = "PROJECT"
"""What the parent run's source is: the workspace's own repository (the UI's Source column)."""
TAG_WORKSPACE_DIRTY = "mlrecipes.workspace.dirty"
TAG_WORKSPACE_FOLDER = "mlrecipes.workspace.folder"
"""The manifest's folder inside the workspace's repository (``.`` at its root)."""
TAG_WORKSPACE_LOCAL_ONLY = "mlrecipes.workspace.local_only"
TAG_LOCAL_ONLY = "local_only"
"""``mlrecipes.repo.<name>.local_only=true``: a folder with no remote, fetchable on the
machine that ran it only (``reproduce`` elsewhere says so by name)."""
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
TAG_SAVED_VIEW_PREFIX = "mlflow.sharedViewState."
"""An experiment tag the MLflow UI (3.x) lists under "Views" and opens with
``?viewStateShareKey=<rest of the key>``: its columns, sort and filters."""
RUNS_VIEW = "mlrecipes"
"""The saved view ``mlrecipes ui`` writes and opens (``mlflow.sharedViewState.mlrecipes``)."""
EXPERIMENT_KIND = "custom_model_development"
"""What the MLflow UI (3.x) calls "custom model development": it opens on the runs."""

TAG_TRIAL = "mlrecipes.trial"
"""On each trial's parent run: the Optuna trial number."""
TAG_OBJECTIVE = "mlrecipes.objective"
TAG_DIRECTION = "mlrecipes.direction"
TAG_BEST_TRIAL = "mlrecipes.best_trial"
TAG_BEST_RUN = "mlrecipes.best_run_id"
# The team store (mlrecipes.core.team_store): set on a step run once its outputs
# and their checksum manifest are uploaded; the value is the manifest's SHA-256.
TAG_OUTPUTS_SHA256 = "mlrecipes.outputs.sha256"
TAG_OUTPUTS_SKIPPED = "mlrecipes.outputs.skipped"
"""Why a step run's outputs were not shared (too large, a link, no artifact serving)."""

KIND_PIPELINE = "pipeline"
KIND_STEP = "step"
KIND_STUDY = "study"
"""The one summary run of a ``tune`` call: search space, best trial and value."""

CacheStatus = Literal["hit", "miss", "remote"]
STEPS_ARTIFACT = "steps"
"""Artifact key of ``steps.json`` on the parent run (``mlrecipes/steps/steps.json``)."""

ARTIFACTS_DIR = "mlrecipes"
"""Folder of a parent run's artifacts: ``mlrecipes/<key>/<file name>`` for each key."""


@dataclass(frozen=True)
class RepoRef:
    """One repo as runs record it: where its code came from (URL without credentials)."""

    name: str
    url: str
    commit: str
    tree: str
    subdir: str = ""
    dirty: bool = False
    local_only: bool = False
    """``url`` is a folder with no remote: fetchable on this machine only."""


@dataclass(frozen=True)
class WorkspaceSource:
    """The git repository holding the manifest: the parent run's source.

    ``url`` is fetchable by a teammate (its remote, credentials stripped) unless
    ``local_only``; ``folder`` is the manifest's folder inside it.
    """

    url: str
    commit: str
    dirty: bool
    local_only: bool = False
    folder: str = "."


def source_tags(source: WorkspaceSource) -> dict[str, str]:
    """MLflow's own source tags for a parent run (the UI's Source and Version columns),
    and the workspace repository's dirty flag."""
    tags = {
        TAG_SOURCE_TYPE: SOURCE_TYPE_PROJECT,
        TAG_SOURCE_NAME: source.url,
        TAG_SOURCE_REPO_URL: source.url,
        TAG_SOURCE_COMMIT: source.commit,
        TAG_WORKSPACE_DIRTY: str(source.dirty).lower(),
        TAG_WORKSPACE_FOLDER: source.folder,
    }
    if source.local_only:
        tags[TAG_WORKSPACE_LOCAL_ONLY] = "true"
    return tags


def repo_tags(repos: Iterable[RepoRef]) -> dict[str, str]:
    """``mlrecipes.repo.<name>.commit|url|subdir|tree|dirty`` for each repo, and
    ``.local_only`` for a folder with no remote."""
    tags: dict[str, str] = {}
    for repo in repos:
        prefix = f"{TAG_REPO_PREFIX}{repo.name}"
        tags[f"{prefix}.commit"] = repo.commit
        tags[f"{prefix}.url"] = repo.url
        tags[f"{prefix}.subdir"] = repo.subdir
        tags[f"{prefix}.tree"] = repo.tree
        tags[f"{prefix}.dirty"] = str(repo.dirty).lower()
        if repo.local_only:
            tags[f"{prefix}.{TAG_LOCAL_ONLY}"] = "true"
    return tags


def decode_repo_tags(tags: Mapping[str, str]) -> dict[str, RepoRef]:
    """The repos a run recorded with :func:`repo_tags`, by name (the inverse)."""
    fields: dict[str, dict[str, str]] = {}
    for key, value in tags.items():
        if key.startswith(TAG_REPO_PREFIX):
            repo, _, attribute = key.removeprefix(TAG_REPO_PREFIX).rpartition(".")
            fields.setdefault(repo, {})[attribute] = value
    return {
        name: RepoRef(
            name,
            url=got.get("url", ""),
            commit=got.get("commit", ""),
            tree=got.get("tree", ""),
            subdir=got.get("subdir", ""),
            dirty=got.get("dirty", "").lower() == "true",
            local_only=got.get(TAG_LOCAL_ONLY, "").lower() == "true",
        )
        for name, got in sorted(fields.items())
    }


def decode_overrides(text: str | None) -> dict[str, Any]:
    """The ``mlrecipes.overrides`` tag as a mapping; ValueError when it is not JSON of one."""
    if not text:
        return {}
    value = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON mapping: {text!r}")
    return value


def summary_steps(tags: Mapping[str, str]) -> set[str]:
    """The steps a parent run records with :func:`step_summary_tags`."""
    return {
        key.removeprefix(TAG_STEPS_PREFIX).rpartition(".")[0]
        for key in tags
        if key.startswith(TAG_STEPS_PREFIX)
    }


def pipeline_tags(
    repos: Iterable[RepoRef],
    *,
    overrides: Mapping[str, Any],
    lock_hash: str,
    fingerprints: str,
    manifest_name: str,
    workspace_root: str,
    source: WorkspaceSource | None = None,
) -> dict[str, str]:
    """The tags a parent run starts with (``source``: when the manifest is in a git repo)."""
    return {
        **(source_tags(source) if source else {}),
        **repo_tags(repos),
        TAG_KIND: KIND_PIPELINE,
        TAG_OVERRIDES: json.dumps(dict(overrides), sort_keys=True),
        TAG_LOCK_HASH: lock_hash,
        TAG_FINGERPRINTS: fingerprints,
        TAG_MANIFEST: manifest_name,
        # where the workspace was on the machine that ran it: reproduce links input
        # files from there, and resolves relative URLs of runs logged before repos
        # were recorded by fetchable URLs
        TAG_WORKSPACE_ROOT: workspace_root,
    }


def step_tags(step: str, fn: str, fingerprint: str, repos: Sequence[RepoRef]) -> dict[str, str]:
    """The tags of a step's child run; ``repos[0]`` is the step's own repo, then those it uses.

    A dev copy's run says dirty in every place the parent does (repo tag,
    ``mlrecipes.dirty``), so a run from uncommitted code never looks clean.
    """
    own = repos[0]
    tags = {
        **repo_tags(repos),
        TAG_KIND: KIND_STEP,
        TAG_STEP: step,
        TAG_FN: fn,
        TAG_SOURCE_NAME: fn,
        TAG_FINGERPRINT: fingerprint,
        TAG_CACHE: "miss",
        TAG_SOURCE_COMMIT: own.commit,
        TAG_SOURCE_REPO_URL: own.url,
        TAG_DIRTY: str(any(repo.dirty for repo in repos)).lower(),
    }
    return tags


def step_summary_tags(
    step: str, fingerprint: str, cache: CacheStatus, source_run: str | None
) -> dict[str, str]:
    """What the parent run says of one of its steps, executed or taken from a store."""
    prefix = f"{TAG_STEPS_PREFIX}{step}"
    tags = {f"{prefix}.fingerprint": fingerprint, f"{prefix}.cache": cache}
    if source_run:
        tags[f"{prefix}.source_run"] = source_run
    return tags


def step_metric_key(step: str, metric: str) -> str:
    """The one key of a step's metric, on its child run and on the parent run alike
    (``<step>.<metric>``), so one column of the runs table fills for both. Metrics a
    step logs to its run itself keep the names it gives them."""
    return f"{step}.{metric}"


def step_metric_name(step: str, key: str) -> str:
    """The metric's own name in a step run's ``key``: without the ``<step>.`` prefix
    (child runs logged before the prefix, and the step's own logging, have none)."""
    return key.removeprefix(f"{step}.")


def split_step_metric(key: str) -> tuple[str, str] | None:
    """``(step, metric)`` of a parent run's ``<step>.<metric>`` key; None for other keys.

    Step names hold no dot; metric names may.
    """
    step, dot, metric = key.partition(".")
    return (step, metric) if dot and step and metric else None


def variant_run_name(
    workspace: str,
    overrides: Mapping[str, Any],
    limit: int = 60,
    order: Sequence[str] = (),
) -> str:
    """A parent run's name: the overrides when there are some, else the workspace name.

    Keys are shortened to their last part where that stays unambiguous
    (``train.lr=0.1 seed=2``), so sweep variants differ within what the UI shows;
    they come in ``order`` (the manifest's order of its params), whatever order the
    overrides were given in (a trial and its reproduction get the same name), and
    a float shows 4 significant digits (``lr=0.3832``; its run's params hold all).
    """
    if not overrides:
        return workspace
    rank = {key: index for index, key in enumerate(order)}
    keys = sorted(overrides, key=lambda k: rank.get(k.lstrip("+"), len(rank)))
    plain = [key.lstrip("+") for key in keys]
    short = [key.rpartition(".")[2] for key in plain]
    if len(set(short)) < len(short):
        short = plain
    values = [short_value(overrides[key]) for key in keys]
    name = " ".join(f"{k}={v}" for k, v in zip(short, values, strict=True))
    return name if len(name) <= limit else name[: limit - 9] + "-" + _digest(name)


def short_value(value: Any) -> str:
    """A float as 4 significant digits (``0.3832``); anything else as it is."""
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, float | str):
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    if isinstance(value, str) and not any(c in text for c in ".eE"):
        return text  # an int or a word such as "inf" stays as written
    return f"{number:.4g}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class PipelineInfo:
    """One pipeline run (one sweep variant): the parent run in MLflow.

    ``artifacts`` maps a key (``manifest``, ``lock``, ``params``) to a local file;
    the file is logged under ``mlrecipes/<key>/`` with its own name, so
    :func:`~mlrecipes.core.tracking.queries.download_pipeline_artifacts` gives the
    same keys back. ``params`` are logged as they are (flattened ``step.param``).
    ``started_at`` (seconds since the epoch) is when the pipeline really started.
    """

    experiment: str
    run_name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, Path] = field(default_factory=dict)
    started_at: float | None = None


@dataclass(frozen=True)
class StepInfo:
    """One executed step of a pipeline run: a child run in MLflow.

    ``params`` are the step's resolved parameters; nested mappings are flattened to
    ``a.b`` keys and values stringified by the tracker. ``started_at`` is when the
    step really started (runs are often created after the fact).
    """

    step: str
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    started_at: float | None = None


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended: its status, the metrics it returned, extra tags, its log file.

    The log is uploaded as ``<step>.log`` (``log_name``); an empty log is not.
    """

    status: RunStatus
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    log_name: str | None = None
    finished_at: float | None = None
    kept: Path | None = None
    """Where the step's result is being published (its store entry), when the outcome is
    told before that: a tracker that delivers later (the outbox) ends the run FINISHED
    only once this exists, and KILLED if the command died first."""


@dataclass(frozen=True)
class PipelineSummary:
    """What a parent run gets when it ends: every step's record (DESIGN.md, "In MLflow")."""

    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    artifacts: Mapping[str, Path] = field(default_factory=dict)
    pages: tuple[Path, ...] = ()
    """Files logged at the top of the run's artifacts, where the UI lists them first
    (``pipeline.html``)."""


PostRunJob = Callable[[Any, str], None]
"""Work queued after a run exists (e.g. uploading a step's outputs to the team store).

Called as ``job(tracker, run_id)`` on the tracker's side: in the tracker process
for the real tracker, so the job must be picklable (a module-level function or a
``functools.partial`` of one) and may use ``tracker.client``.
"""


@runtime_checkable
class Tracker(Protocol):
    """Where pipeline runs are logged. Calls return once the store has them."""

    def start_pipeline(self, info: PipelineInfo) -> str:
        """Create the parent run (RUNNING), with its tags, params and artifacts; its id."""
        ...

    def create_step_run(self, parent_id: str, info: StepInfo) -> str:
        """Create a child run (RUNNING) of ``parent_id``; its id."""
        ...

    def finish_step(self, run_id: str, outcome: StepOutcome) -> None:
        """Log the outcome's metrics, tags and log file, then end the child run."""
        ...

    def log_step_run(self, parent_id: str, info: StepInfo, outcome: StepOutcome) -> str:
        """Create, fill and end a child run in one go, after the step ran; its id."""
        ...

    def finish_pipeline(
        self, parent_id: str, status: RunStatus, summary: PipelineSummary | None = None
    ) -> None:
        """Log the summary and end the parent run; child runs still open end as KILLED."""
        ...

    def run_job(self, job: PostRunJob, run_id: str) -> None:
        """Run ``job(tracker, run_id)`` where the store is (see :data:`PostRunJob`)."""
        ...

    def find_finished_pipeline(self, experiment: str, fingerprints_hash: str) -> str | None:
        """The newest FINISHED parent run of exactly this set of step fingerprints."""
        ...

    def step_env(self, run_id: str) -> dict[str, str]:
        """Environment variables that let a step's own code log to its run.

        Must not call the store for runs this tracker created, so that it is safe
        to call from any thread once the run id is known.
        """
        ...

    def close(self) -> None:
        """End runs left open (as KILLED) and release the store."""
        ...
