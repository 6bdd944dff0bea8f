"""The Python API: ``Workspace.load(path).run(...)`` does what ``mlrecipes run`` does."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlrecipes.core.events import EventHandler, ignore
from mlrecipes.core.manifest import Manifest, load_manifest
from mlrecipes.core.manifest.discover import find_manifest
from mlrecipes.core.manifest.graph import StepGraph
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.plan.planner import Plan, make_plan, needed_repos
from mlrecipes.core.plan.sweep import MAX_VARIANTS, expand_overrides
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.store.gc import DEFAULT_KEEP_LAST, GcResult, collect_garbage
from mlrecipes.core.sync.status import RepoStatus, workspace_status
from mlrecipes.core.sync.workspace_sync import SyncMode, SyncResult, sync_workspace
from mlrecipes.core.tracking.outbox import Pending
from mlrecipes.core.tracking.uri import tracking_uri

if TYPE_CHECKING:
    from mlrecipes.core.tracking.warm import WarmStatus
from mlrecipes.core.tune import TuneOptions, TuneResult


class Workspace:
    """A loaded, validated workspace manifest and the state folder beside it."""

    def __init__(self, manifest: Manifest, *, dev: Mapping[str, Path] | None = None) -> None:
        self.manifest = manifest
        # A relative dev path is relative to the manifest's folder, like a relative `url:`.
        base = manifest.path.parent
        self.dev = {
            name: (base / Path(path).expanduser()).resolve() for name, path in (dev or {}).items()
        }
        self.paths = WorkspacePaths.for_manifest(manifest)

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        *,
        dev: Mapping[str, Path] | None = None,
        local: bool = True,
    ) -> Workspace:
        """Load ``path`` (or the nearest ``workspace.yaml``); raises ``ManifestError``."""
        manifest_path = find_manifest(Path(path) if path is not None else None)
        return cls(load_manifest(manifest_path, local=local), dev=dev)

    @property
    def graph(self) -> StepGraph:
        return StepGraph.from_manifest(self.manifest)

    def dag(self, fmt: Literal["text", "mermaid", "dot"] = "text") -> str:
        graph = self.graph
        return {"text": graph.to_text, "mermaid": graph.to_mermaid, "dot": graph.to_dot}[fmt]()

    def sync(
        self,
        *,
        mode: SyncMode = "resolve",
        update: Collection[str] = (),
        jobs: int | None = None,
        force: bool = False,
        on_event: EventHandler = ignore,
        only: Collection[str] | None = None,
        keep_going: bool = False,
        reinstall: Collection[str] = (),
        dry_run: bool = False,
    ) -> SyncResult:
        """See :func:`~mlrecipes.core.sync.workspace_sync.sync_workspace`."""
        return sync_workspace(
            self.manifest,
            mode=mode,
            update=update,
            dev=self.dev,
            jobs=jobs,
            force=force,
            on_event=on_event,
            only=only,
            keep_going=keep_going,
            reinstall=reinstall,
            dry_run=dry_run,
        )

    def status(self) -> list[RepoStatus]:
        return workspace_status(self.manifest)

    def plan(
        self,
        targets: Sequence[str] = (),
        *,
        overrides: Sequence[str] = (),
        force: Collection[str] = (),
        mode: SyncMode = "resolve",
        large_sweep: bool = False,
        on_event: EventHandler = ignore,
    ) -> Plan:
        """Plan without running; ``large_sweep`` allows more than 1,000 variants."""
        return self._plan(targets, overrides, force, mode, large_sweep, on_event)[0]

    def dag_page(
        self,
        targets: Sequence[str] = (),
        *,
        overrides: Sequence[str] = (),
        on_event: EventHandler = ignore,
    ) -> str:
        """The ``pipeline.html`` of the plan (first variant), before anything runs."""
        from mlrecipes.core.run.page import plan_page

        plan, synced = self._plan(targets, overrides, (), "resolve", False, on_event)
        return plan_page(plan, synced.repos)

    def _plan(
        self,
        targets: Sequence[str],
        overrides: Sequence[str],
        force: Collection[str],
        mode: SyncMode,
        large_sweep: bool,
        on_event: EventHandler,
    ) -> tuple[Plan, SyncResult]:
        variants = expand_overrides(overrides, max_variants=None if large_sweep else MAX_VARIANTS)
        only = needed_repos(self.manifest, targets)
        synced = self.sync(mode=mode, on_event=on_event, only=only, keep_going=True)
        plan = make_plan(
            self.manifest,
            synced.repos,
            targets=targets,
            variants=variants,
            force=force,
            failed=synced.failed,
        )
        return plan, synced

    def gc(
        self,
        *,
        keep_last: int = DEFAULT_KEEP_LAST,
        older_than_days: float | None = None,
        dry_run: bool = False,
    ) -> GcResult:
        """Free store entries, environments and mirrors nothing needs (``store gc``)."""
        return collect_garbage(
            self.manifest, keep_last=keep_last, older_than_days=older_than_days, dry_run=dry_run
        )

    def run(
        self,
        targets: Sequence[str] = (),
        *,
        options: RunOptions | None = None,
        on_event: EventHandler = ignore,
    ) -> RunResult:
        """Sync if needed, plan, run what is not cached, track everything in MLflow."""
        from mlrecipes.core.run import compose
        from mlrecipes.core.run.pipeline import run_pipeline

        options = options or RunOptions()
        # a bad -S (or a sweep too large without large_sweep) fails before a sync
        expand_overrides(
            options.overrides, max_variants=None if options.large_sweep else MAX_VARIANTS
        )
        services = compose.default_services(self.manifest, self.paths, options)
        # Only what the targets need; a repo whose environment fails fails its steps only.
        synced = self.sync(
            mode=options.sync_mode,
            jobs=options.jobs,
            on_event=on_event,
            only=needed_repos(self.manifest, targets),
            keep_going=True,
            dry_run=options.dry_run,
        )
        # No update moves the checkouts under a step (a dry run runs none).
        held = nullcontext() if options.dry_run else synced.held(self.paths.checkouts)
        with held:
            return run_pipeline(
                self.manifest,
                self.paths,
                synced,
                targets,
                options,
                services=services,
                on_event=on_event,
            )

    def push_runs(self, *, timeout: float = 120.0) -> Pending:
        """Deliver the runs waiting in the outbox to MLflow; what still waits, and why."""
        from mlrecipes.core.tracking.pending import deliver_pending

        return deliver_pending(self.paths, tracking_uri(self.manifest), timeout=timeout)

    def resolve_run_id(self, run_id: str) -> str:
        """MLflow's id of a run this workspace logged under a local id, once delivered."""
        from mlrecipes.core.tracking.outbox import RunIds

        return RunIds(self.paths.outbox).resolve(run_id)

    def waiting_runs(self) -> Pending:
        """What waits in the outbox now (nothing is delivered)."""
        from mlrecipes.core.tracking.outbox import pending

        return pending(self.paths.outbox)

    def tracker_status(self) -> WarmStatus | None:
        """The warm tracker of this workspace, or None when none runs."""
        from mlrecipes.core.tracking import warm

        return warm.status(self.paths.tracker_socket)

    def stop_tracker(self) -> int | None:
        """Stop the warm tracker (runs it has not delivered stay in the outbox); its pid."""
        from mlrecipes.core.tracking import warm

        return warm.stop(self.paths.tracker_socket)

    def tune(
        self,
        targets: Sequence[str] = (),
        *,
        options: TuneOptions,
        on_event: EventHandler = ignore,
    ) -> TuneResult:
        """Search hyperparameters with Optuna; every trial is a cached pipeline run.

        Validates the search space and the objective, then syncs once: every
        trial runs the same commits.
        """
        from mlrecipes.core.run.compose import check_storage
        from mlrecipes.core.tune.study import tune

        check_storage(self.manifest, options.run)  # before the sync: store mode's team store

        def sync() -> SyncResult:
            return self.sync(mode=options.run.sync_mode, jobs=options.run.jobs, on_event=on_event)

        return tune(self.manifest, self.paths, sync, targets, options, on_event=on_event)
