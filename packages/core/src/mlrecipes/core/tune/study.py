"""``tune``: an Optuna study whose every trial is a cached pipeline run.

The search space and the objective are checked first (before anything runs),
then the workspace is synced once, so every trial runs the same commits. Trials
are asked for one at a time (in this thread, so a seeded sampler draws in a
fixed order) and run by the run layer (``run_pipeline``, as ``run`` does):
planned, cached, executed and logged like any run, with the study and trial
number as tags. ``--trials N`` is
the study's total: a resumed study runs only the trials it lacks. A trial cut
short by Ctrl-C is recorded as failed with an ``interrupted`` mark and does not
count, so the next call runs it again.

With ``jobs > 1`` trials run in threads (each a whole pipeline run); Ctrl-C
then starts no new trial and waits for the running ones, which are recorded
as they end (only the main thread receives the signal).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Literal

from mlrecipes.core.events import (
    EventHandler,
    TrialFinished,
    TrialsDraining,
    TrialStarted,
    ignore,
)
from mlrecipes.core.manifest import Manifest
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.compose import RunServices, default_services
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.sync.workspace_sync import SyncResult
from mlrecipes.core.tracking.background import BackgroundTracker
from mlrecipes.core.tracking.base import (
    TAG_PARENT,
    TAG_STUDY,
    TAG_TRIAL,
    PipelineInfo,
    RunStatus,
)
from mlrecipes.core.tracking.outbox import RunIds
from mlrecipes.core.tracking.uri import tracking_uri
from mlrecipes.core.tune._optuna import Direction, import_optuna, make_sampler, open_study
from mlrecipes.core.tune.limits import check_options
from mlrecipes.core.tune.objective import Objective, parse_objective, run_trial
from mlrecipes.core.tune.options import TuneOptions
from mlrecipes.core.tune.result import (
    ATTR_ERROR,
    ATTR_INTERRUPTED,
    ATTR_RUN_ID,
    Trial,
    TuneResult,
)
from mlrecipes.core.tune.space import Scalar, SearchSpace, parse_space
from mlrecipes.core.tune.stale import end_dead_trials, mark_owner
from mlrecipes.core.tune.storage import default_storage, redact_storage
from mlrecipes.core.tune.summary import finish_study_run, study_info

if TYPE_CHECKING:
    import optuna


def tune(
    manifest: Manifest,
    paths: WorkspacePaths,
    sync: Callable[[], SyncResult],
    targets: Sequence[str],
    options: TuneOptions,
    *,
    on_event: EventHandler = ignore,
) -> TuneResult:
    """Search ``options.space`` for the best ``options.objective`` (see module doc).

    ``sync`` is called once, when there are trials to run.
    """
    check_options(options)  # study name, seed and --trials, before anything opens
    space = parse_space(options.space)
    space.check(manifest)  # unknown keys fail here, with did-you-mean, before anything runs
    objective = parse_objective(options.objective, manifest, targets)
    direction: Direction = "maximize" if options.direction.startswith("max") else "minimize"
    import_optuna()
    name = options.study or default_study_name(space, objective, direction, targets)
    storage = options.storage or default_storage(paths)
    study = open_study(
        name=name, storage=storage, direction=direction, objective=str(objective), space=space
    )
    end_dead_trials(study)  # trials a killed tune left RUNNING: failed, run again
    trials = _TrialLoop(manifest, paths, targets, study, space, objective, name, on_event)
    if options.summary:
        trials.study_info = study_info(
            manifest.experiment, name, str(objective), direction, space.describe()
        )
    ran = trials.run_missing(sync, options)
    result = _result(manifest, study, name, storage, objective, direction, space, ran)
    if trials.study_tracker is not None and trials.study_run is not None:
        try:
            finish_study_run(result, paths, trials.study_tracker, trials.study_run)
        finally:
            trials.study_tracker.close()
        run_id = RunIds(paths.outbox).resolve(trials.study_run)  # MLflow's, once delivered
        result = dataclasses.replace(result, summary_run_id=run_id)
    return result


def default_study_name(
    space: SearchSpace, objective: Objective, direction: str, targets: Sequence[str]
) -> str:
    """A name that the same search always gets: rerunning a command resumes its study."""
    what = json.dumps([space.describe(), str(objective), direction, sorted(targets)])
    return f"{objective}-{hashlib.sha256(what.encode()).hexdigest()[:8]}"


def _budget(study: optuna.Study, options: TuneOptions) -> int:
    trials = [Trial.from_optuna(t) for t in study.get_trials(deepcopy=False)]
    study.sampler = make_sampler(options.sampler, options.seed, len(trials))
    return max(0, options.trials - sum(t.counts for t in trials))


def grid_points(
    space: SearchSpace, study: optuna.Study, seed: int | None
) -> list[dict[str, Scalar]]:
    """The grid's points not tried yet, in a seeded random order (as Optuna's GridSampler)."""
    grid = space.grid()
    trials = [Trial.from_optuna(t) for t in study.get_trials(deepcopy=False)]
    tried = [t.params for t in trials if t.counts]
    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    random.Random(seed).shuffle(points)  # noqa: S311 - an order, not a secret
    return [p for p in points if p not in tried]


def _result(
    manifest: Manifest,
    study: optuna.Study,
    name: str,
    storage: str,
    objective: Objective,
    direction: Direction,
    space: SearchSpace,
    ran: int,
) -> TuneResult:
    return TuneResult(
        study=name,
        storage=redact_storage(storage),
        objective=str(objective),
        direction=direction,
        space=space.describe(),
        trials=tuple(Trial.from_optuna(t) for t in study.get_trials(deepcopy=False)),
        ran=ran,
        tracking_uri=tracking_uri(manifest),
        experiment=manifest.experiment,
    )


class _TrialLoop:
    """Asks, runs and tells trials; Optuna calls are serialized by one lock."""

    def __init__(
        self,
        manifest: Manifest,
        paths: WorkspacePaths,
        targets: Sequence[str],
        study: optuna.Study,
        space: SearchSpace,
        objective: Objective,
        name: str,
        on_event: EventHandler,
    ) -> None:
        self.manifest, self.paths, self.targets = manifest, paths, targets
        self.study, self.space, self.objective, self.name = study, space, objective, name
        self.on_event = on_event
        self.lock = threading.Lock()
        self.distributions = space.distributions()
        self.queue: list[dict[str, Scalar]] | None = None  # the grid's points still to run
        self.synced: SyncResult | None = None
        self.services: RunServices | None = None
        self.options = RunOptions()
        self.study_info: PipelineInfo | None = None  # None: no study run (--no-summary)
        self.study_run: str | None = None  # the trials' parent run, once it exists
        self.study_tracker: BackgroundTracker | None = None  # logs the study run

    def run_missing(self, sync: Callable[[], SyncResult], options: TuneOptions) -> int:
        """Run the trials the study lacks; how many ran."""
        budget = _budget(self.study, options)
        if options.sampler == "grid":
            self.queue = grid_points(self.space, self.study, options.seed)
            budget = min(budget, len(self.queue))  # the grid is exhausted: the study is done
        if not budget:
            return 0
        self.synced = sync()
        self.options = options.run
        # Every trial's runs go through the outbox to the one warm tracker; the study's
        # own run too (its local id, the trials' parent, becomes MLflow's on delivery).
        self.services = default_services(self.manifest, self.paths, options.run)
        if self.study_info is not None:
            tracker = self.services.tracker(tracking_uri(self.manifest))
            self.study_tracker = tracker
            self.study_run = tracker.run_id(tracker.start_pipeline(self.study_info))
        try:
            with self.synced.held(self.paths.checkouts):  # no update moves them under a trial
                return self.run(budget, options.jobs)
        except BaseException as exc:
            if self.study_tracker is not None and self.study_run is not None:
                status: RunStatus = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
                with contextlib.suppress(Exception):  # the first error is the one to report
                    self.study_tracker.finish_pipeline(self.study_run, status)
                self.study_tracker.close()
            raise

    def ask(self) -> optuna.trial.Trial:
        with self.lock:
            if self.queue:
                self.study.enqueue_trial(self.queue.pop(0))  # the next ask takes it
            trial = self.study.ask(self.distributions)
            mark_owner(trial)  # a later tune ends it if this process is killed
            return trial

    def run(self, budget: int, jobs: int) -> int:
        """Run ``budget`` trials, ``jobs`` at a time; how many ran."""
        if jobs == 1:
            for _ in range(budget):
                self.one(self.ask())
            return budget
        return self._parallel(budget, jobs)

    def _parallel(self, budget: int, jobs: int) -> int:
        asked = 0
        pending: set[Future[None]] = set()
        with ThreadPoolExecutor(jobs, thread_name_prefix="trial") as pool:
            try:
                while asked < budget or pending:
                    while asked < budget and len(pending) < jobs:
                        pending.add(pool.submit(self.one, self.ask()))
                        asked += 1
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()  # a UserError (no such metric) ends the study
            except BaseException as exc:
                for future in pending:
                    future.cancel()
                running = sum(1 for future in pending if not future.done())
                if isinstance(exc, KeyboardInterrupt) and running:
                    self.on_event(TrialsDraining(self.name, running))
                raise
        return asked

    def one(self, trial: optuna.trial.Trial) -> None:
        try:
            overrides = self.space.overrides(trial.params)
            self.on_event(TrialStarted(self.name, trial.number, overrides))
            tags = {TAG_STUDY: self.name, TAG_TRIAL: str(trial.number)}
            if self.study_run is not None:  # study -> trial -> step runs
                tags[TAG_PARENT] = self.study_run
            if self.synced is None or self.services is None:
                raise RuntimeError("a trial ran before the workspace was synced")
            outcome = run_trial(
                self.manifest,
                self.paths,
                self.synced,
                self.targets,
                self.options,
                overrides=overrides,
                tags=tags,
                objective=self.objective,
                services=self.services,
                on_event=self.on_event,
            )
        except KeyboardInterrupt:
            self._fail(trial, "interrupted", interrupted=True)
            raise
        except BaseException as exc:
            self._fail(trial, str(exc))
            raise
        if outcome.error is not None:
            self._fail(trial, outcome.error)
            return
        with self.lock:
            trial.set_user_attr(ATTR_RUN_ID, outcome.run_id)
            self.study.tell(trial, outcome.value)
        self.on_event(
            TrialFinished(self.name, trial.number, "COMPLETE", outcome.value, outcome.run_id)
        )

    def _fail(self, trial: optuna.trial.Trial, error: str, *, interrupted: bool = False) -> None:
        from optuna.trial import TrialState

        with self.lock:
            trial.set_user_attr(ATTR_ERROR, error)
            if interrupted:
                trial.set_user_attr(ATTR_INTERRUPTED, True)
            self.study.tell(trial, state=TrialState.FAIL)
        state: Literal["FAIL", "INTERRUPTED"] = "INTERRUPTED" if interrupted else "FAIL"
        self.on_event(TrialFinished(self.name, trial.number, state, None, None, error))
