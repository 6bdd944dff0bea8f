"""``reproduce``: rebuild a logged pipeline run from MLflow, rerun it, compare its metrics.

From the parent run alone: download its manifest and lock, write them into a
work folder (:mod:`.materialize`), sync frozen (the logged commits, nothing
else), build the environments, run with the logged overrides and compare each
step's metrics with the logged ones. The reproduction is a run of its own, in
the same experiment, tagged ``mlrecipes.reproduces=<run id>`` and carrying the
comparison as an artifact (``reproduce/comparison.json``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.errors import DriftDetected, LockError, ReproduceError, StepFailed
from mlrecipes.core.events import EventHandler, ignore
from mlrecipes.core.manifest import (
    SECRET_MASK,
    Manifest,
    MlflowConfig,
    load_manifest,
    resolve_params,
)
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.plan.records import fingerprints_hash
from mlrecipes.core.reproduce.compare import MetricComparison, compare_metrics
from mlrecipes.core.reproduce.materialize import check_workdir, link_inputs, write_workspace
from mlrecipes.core.reproduce.origin import (
    TAG_REPRODUCES,
    LoggedRun,
    read_logged_run,
    step_metrics,
)
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.sync.lock import read_lock
from mlrecipes.core.tracking import TAG_FINGERPRINTS
from mlrecipes.core.workspace import Workspace
from mlrecipes.git_sources import NotARepositoryError, RemoteError, RevNotFoundError

COMPARISON_ARTIFACT = "reproduce/comparison.json"
TAG_RESULT = "mlrecipes.reproduce.result"  # ``match`` or ``drift``


@dataclass(frozen=True)
class ReproduceResult:
    """What a reproduction found. ``recomputed`` steps executed; ``cached`` came from the store."""

    run_id: str
    reproduction_run_id: str
    tracking_uri: str
    workdir: Path
    comparisons: tuple[MetricComparison, ...]
    recomputed: tuple[str, ...]
    cached: tuple[str, ...]
    same_fingerprints: bool  # every step hashed the same inputs as the logged run
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def drifted(self) -> tuple[MetricComparison, ...]:
        return tuple(c for c in self.comparisons if not c.matches)

    @property
    def matches(self) -> bool:
        return not self.drifted

    def check(self) -> None:
        """Raise :class:`DriftDetected` when a metric is outside the tolerances."""
        if self.drifted:
            names = ", ".join(f"{c.step}.{c.metric}" for c in self.drifted)
            raise DriftDetected(
                f"run {self.reproduction_run_id} does not reproduce run {self.run_id}: "
                f"{len(self.drifted)} metric(s) differ ({names}) beyond rtol={self.rtol}, "
                f"atol={self.atol}",
                run_id=self.run_id,
            )

    def to_json(self) -> dict[str, object]:
        return {
            "reproduces": self.run_id,
            "run_id": self.reproduction_run_id,
            "result": "match" if self.matches else "drift",
            "rtol": self.rtol,
            "atol": self.atol,
            "recomputed": list(self.recomputed),
            "cached": list(self.cached),
            "same_fingerprints": self.same_fingerprints,
            "metrics": [c.to_json() for c in self.comparisons],
        }


def reproduce_run(
    run_id: str,
    *,
    tracking_uri: str,
    workdir: Path | None = None,
    rtol: float = 0.0,
    atol: float = 0.0,
    no_cache: bool = False,
    jobs: int | None = None,
    on_event: EventHandler = ignore,
) -> ReproduceResult:
    """Reproduce parent run ``run_id`` of ``tracking_uri`` (see module doc); never raises on drift.

    ``workdir`` defaults to a fresh temporary folder, removed when the metrics
    match and kept (for a look) otherwise. ``no_cache`` executes every step even
    when the work folder's store has it. Raises :class:`ReproduceError` when the
    run cannot be reproduced; call :meth:`ReproduceResult.check` to fail on drift.
    """
    if rtol < 0 or atol < 0:
        raise ReproduceError("tolerances must not be negative", run_id=run_id)
    if workdir is not None:
        check_workdir(run_id, workdir.expanduser().resolve())
    with _work_folder(workdir) as (folder, keep):
        logged = read_logged_run(tracking_uri, run_id, WorkspacePaths(folder).reproduce)
        ws = _workspace(logged, folder, tracking_uri)
        _, logged_metrics = step_metrics(tracking_uri, ws.manifest.experiment, run_id)
        run = _rerun(ws, logged, no_cache=no_cache, jobs=jobs, on_event=on_event)
        new_id = run.run_ids[0]
        _, new_metrics = step_metrics(tracking_uri, ws.manifest.experiment, new_id)
        to_run = {s.step for s in run.plan.to_run}
        variant = run.plan.variants[0]
        result = ReproduceResult(
            run_id=run_id,
            reproduction_run_id=new_id,
            tracking_uri=tracking_uri,
            workdir=folder,
            comparisons=compare_metrics(logged_metrics, new_metrics, rtol=rtol, atol=atol),
            recomputed=tuple(s.step for s in variant.steps if s.step in to_run),
            cached=tuple(s.step for s in variant.steps if s.step not in to_run),
            same_fingerprints=fingerprints_hash(variant.fingerprints)
            == logged.tags.get(TAG_FINGERPRINTS),
            rtol=rtol,
            atol=atol,
        )
        _record(tracking_uri, result)
        keep.append(not result.matches)
    return result


@contextmanager
def _work_folder(workdir: Path | None) -> Iterator[tuple[Path, list[bool]]]:
    """``workdir``, or a temporary folder removed afterwards unless the caller keeps it."""
    if workdir is not None:
        yield workdir.expanduser().resolve(), []
        return
    folder = Path(tempfile.mkdtemp(prefix="mlrecipes-reproduce-"))
    keep: list[bool] = []
    try:
        yield folder, keep
    except StepFailed:
        raise  # keep the folder: the failed step's log is in its store
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if not any(keep):
        shutil.rmtree(folder, ignore_errors=True)


def _workspace(logged: LoggedRun, folder: Path, tracking_uri: str) -> Workspace:
    """The work folder's workspace, logging to ``tracking_uri`` in the logged experiment."""
    manifest: Manifest = load_manifest(write_workspace(logged, folder), local=False)
    mlflow = MlflowConfig(tracking_uri=tracking_uri, experiment=manifest.experiment)
    manifest = dataclasses.replace(manifest, mlflow=mlflow)
    _check_lock(logged, folder / logged.lock_file.name)
    link_inputs(manifest, logged)
    return Workspace(manifest)


def _check_lock(logged: LoggedRun, lock_file: Path) -> None:
    """The logged lock must pin the commits the run's tags say it ran."""
    lock = read_lock(lock_file)
    pinned = {name: entry.commit for name, entry in (lock.repos if lock else {}).items()}
    for name, repo in logged.repos().items():
        if pinned.get(name) != repo.commit:
            raise ReproduceError(
                f"run {logged.run_id}: repo {name!r} ran at commit {repo.commit or None} "
                f"but the logged lock pins {pinned.get(name)}",
                run_id=logged.run_id,
                hint="the run's lock artifact does not match its tags; it cannot be trusted",
            )


def _rerun(
    ws: Workspace, logged: LoggedRun, *, no_cache: bool, jobs: int | None, on_event: EventHandler
) -> RunResult:
    steps = logged.steps or tuple(ws.manifest.steps)
    _check_secrets(ws, logged, steps)
    options = RunOptions(
        overrides=tuple(f"{key}={value}" for key, value in logged.overrides.items()),
        jobs=jobs,
        force=steps if no_cache else (),
        sync_mode="frozen",
        extra_tags={TAG_REPRODUCES: logged.run_id},
        share=False,  # a reproduction recomputes: the team store would hand back the run itself
        wait=True,  # its metrics are read back from MLflow right after
    )
    with _unreproducible(logged):
        return ws.run(steps, options=options, on_event=on_event)


def _check_secrets(ws: Workspace, logged: LoggedRun, steps: Sequence[str]) -> None:
    """Refuse to pass a secret's mask to a step: say which values were never logged.

    ``!env`` values are read from the environment again (an unset variable is
    named); a ``!secret`` written in the manifest, or any secret given with
    ``-S``, is logged as ``<secret>`` and cannot be had back from the run.
    """
    masked = [f"-S {key}" for key, value in logged.overrides.items() if value == SECRET_MASK]
    for step in steps:
        if step in ws.manifest.steps:
            params = resolve_params(ws.manifest, step)  # names an unset !env variable
            masked += [f"{step}.{name}" for name, v in params.items() if _holds_mask(v)]
    if masked:
        raise ReproduceError(
            f"run {logged.run_id} used secret value(s) that were never logged: "
            + ", ".join(sorted(set(masked))),
            run_id=logged.run_id,
            hint="give such values as !env NAME in the manifest, so a reproduction reads "
            "them from the environment",
        )


def _holds_mask(value: object) -> bool:
    if isinstance(value, str):
        return value == SECRET_MASK
    if isinstance(value, list):
        return any(_holds_mask(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_mask(item) for item in value.values())
    return False


@contextmanager
def _unreproducible(logged: LoggedRun) -> Iterator[None]:
    """Say why the logged sources cannot be had again, as a :class:`ReproduceError`."""
    run_id = logged.run_id
    try:
        yield
    except RevNotFoundError as exc:
        raise ReproduceError(
            f"run {run_id}: repo {exc.name!r} ran at commit {exc.rev}, which is no longer "
            f"reachable at {exc.url} (its branch or tag was deleted or rewritten)",
            run_id=run_id,
            hint="push a branch or tag that contains the commit, or point the repo's URL "
            "at a mirror that still has it",
        ) from None
    except (RemoteError, NotARepositoryError) as exc:
        raise ReproduceError(
            f"run {run_id}: cannot fetch its sources again: {exc}", run_id=run_id, hint=exc.hint
        ) from None
    except LockError as exc:
        raise ReproduceError(
            f"run {run_id}: its logged lock does not match its logged manifest: {exc.message}",
            run_id=run_id,
            hint="the run's artifacts are inconsistent; it cannot be reproduced exactly",
        ) from None


def _record(tracking_uri: str, result: ReproduceResult) -> None:
    """Attach the comparison to the reproduction run (it has ended: tags and artifacts only)."""
    from mlrecipes.core.tracking import make_client, translate_errors

    client = make_client(tracking_uri)
    run_id = result.reproduction_run_id
    with (
        translate_errors(tracking_uri, f"record the comparison on run {run_id}"),
        tempfile.TemporaryDirectory(prefix="mlrecipes-comparison-") as tmp,
    ):
        path = Path(tmp) / Path(COMPARISON_ARTIFACT).name
        path.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True))
        client.log_artifact(run_id, str(path), str(Path(COMPARISON_ARTIFACT).parent))
        client.set_tag(run_id, TAG_RESULT, "match" if result.matches else "drift")
        client.set_tag(run_id, TAG_REPRODUCES, result.run_id)
