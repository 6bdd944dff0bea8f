"""What a pipeline run tells its tracker: plain data and the :class:`Tracker` protocol.

The orchestrator builds :class:`PipelineInfo` and :class:`StepInfo` (tags, params,
artifacts; see DESIGN.md, "In MLflow") and hands them to a tracker. The real one is
:class:`~mlrecipes.core.tracking.mlflow_tracker.MlflowTracker`; unit tests of callers
use :class:`~mlrecipes.core.tracking.recording.RecordingTracker`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
"""How a run ended; MLflow's terminal statuses."""

TERMINAL_STATUSES: tuple[RunStatus, ...] = ("FINISHED", "FAILED", "KILLED")

# Tag names that the tracker sets itself and that queries read back.
TAG_KIND = "mlrecipes.kind"
"""``pipeline`` on parent runs, ``step`` on child runs: searches tell them apart by it."""
TAG_STEP = "mlrecipes.step"
TAG_OVERRIDES = "mlrecipes.overrides"
TAG_FINGERPRINTS = "mlrecipes.fingerprints"
TAG_REPO_PREFIX = "mlrecipes.repo."
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"

# The team store (mlrecipes.core.team_store): set on a step run once its outputs
# and their checksum manifest are uploaded; the value is the manifest's SHA-256.
TAG_FINGERPRINT = "mlrecipes.fingerprint"
TAG_OUTPUTS_SHA256 = "mlrecipes.outputs.sha256"
TAG_OUTPUTS_SKIPPED = "mlrecipes.outputs.skipped"
"""Why a step run's outputs were not shared (too large, a link, no artifact serving)."""

KIND_PIPELINE = "pipeline"
KIND_STEP = "step"

ARTIFACTS_DIR = "mlrecipes"
"""Folder of a parent run's artifacts: ``mlrecipes/<key>/<file name>`` for each key."""


@dataclass(frozen=True)
class PipelineInfo:
    """One pipeline run (one sweep variant): the parent run in MLflow.

    ``artifacts`` maps a key (``manifest``, ``lock``, ``params``) to a local file;
    the file is logged under ``mlrecipes/<key>/`` with its own name, so
    :func:`~mlrecipes.core.tracking.queries.download_pipeline_artifacts` gives the
    same keys back. ``params`` are the ``-S`` overrides (``train.lr`` keys).
    """

    experiment: str
    run_name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    artifacts: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class StepInfo:
    """One step of a pipeline run: a child run in MLflow.

    ``params`` are the step's resolved parameters; nested mappings are flattened to
    ``a.b`` keys and values stringified by the tracker.
    """

    step: str
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended: its status, the metrics it returned, extra tags, its log file."""

    status: RunStatus
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None


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

    def finish_pipeline(
        self, parent_id: str, status: RunStatus, metrics: Mapping[str, float] | None = None
    ) -> None:
        """End the parent run; child runs still open are ended as KILLED."""
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
