"""What a caller asks of a run, and what it gets back."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mlrecipes.core.executors.task import StepResult
from mlrecipes.core.plan.planner import Plan
from mlrecipes.core.sync.workspace_sync import SyncMode


@dataclass(frozen=True)
class RunOptions:
    overrides: Sequence[str] = ()
    jobs: int | None = None
    force: Collection[str] = ()
    dry_run: bool = False
    fail_fast: bool = False
    sync_mode: SyncMode = "resolve"
    live_logs: bool = False
    executor: str | None = None
    ray_address: str | None = None
    ray_storage: str | None = None  # "shared" | "store"; None: the manifest's
    extra_tags: Mapping[str, str] = field(default_factory=dict)  # on every parent run
    # Log a parent run even when every step is cached and an identical run exists
    # (a tuning trial is a run of its own, whatever it costs).
    new_run: bool = False
    large_sweep: bool = False  # allow more than sweep.MAX_VARIANTS variants
    share: bool = True  # False: no team store this run (--no-share)
    # Return only once MLflow holds every run (also in CI, `CI` set): --wait, reproduce.
    wait: bool = False


@dataclass(frozen=True)
class RunResult:
    plan: Plan
    status: Literal["FINISHED", "FAILED", "KILLED", "UP_TO_DATE", "DRY_RUN"]
    run_ids: tuple[str, ...]
    tracking_uri: str
    experiment: str
    results: dict[str, StepResult] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return self.status == "UP_TO_DATE"
