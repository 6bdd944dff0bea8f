"""mlrecipes.core: manifest, lock, uv environments, DAG, store, executors, MLflow tracking.

The Python API::

    from mlrecipes.core import Workspace, RunOptions

    ws = Workspace.load("workspace.yaml")
    ws.sync()
    result = ws.run(options=RunOptions(overrides=["train.lr=0.01"]))

The core never prints and never parses argv; it emits events (``mlrecipes.core.events``).

Its names are imported on first use (PEP 562): importing one module of the core
(``mlrecipes.core.errors``, ``mlrecipes.core.paths``) loads only that module, so
the CLI's start-up and Tab completion stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlrecipes.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from mlrecipes.core.errors import (
        DriftDetected,
        EnvironmentBuildError,
        LockError,
        ManifestError,
        MissingExtra,
        MlrecipesError,
        OverrideError,
        Problem,
        PythonNotAvailable,
        ReproduceError,
        SearchSpaceError,
        StepFailed,
        StoreError,
        TrackingError,
        UnknownStepError,
        UserError,
    )
    from mlrecipes.core.manifest import Manifest, load_manifest, manifest_json_schema
    from mlrecipes.core.manifest.discover import find_manifest
    from mlrecipes.core.plan.planner import Plan, PlannedStep, Variant
    from mlrecipes.core.run.options import RunOptions, RunResult
    from mlrecipes.core.sync.lock import Lock, LockedRepo, read_lock
    from mlrecipes.core.sync.status import RepoStatus
    from mlrecipes.core.sync.workspace_sync import SyncMode, SyncResult
    from mlrecipes.core.tune import Trial, TuneOptions, TuneResult
    from mlrecipes.core.workspace import Workspace

# Each public name and the module that defines it.
_SOURCES: dict[str, str] = {
    "DriftDetected": "mlrecipes.core.errors",
    "EnvironmentBuildError": "mlrecipes.core.errors",
    "LockError": "mlrecipes.core.errors",
    "ManifestError": "mlrecipes.core.errors",
    "MissingExtra": "mlrecipes.core.errors",
    "MlrecipesError": "mlrecipes.core.errors",
    "OverrideError": "mlrecipes.core.errors",
    "Problem": "mlrecipes.core.errors",
    "PythonNotAvailable": "mlrecipes.core.errors",
    "ReproduceError": "mlrecipes.core.errors",
    "SearchSpaceError": "mlrecipes.core.errors",
    "StepFailed": "mlrecipes.core.errors",
    "StoreError": "mlrecipes.core.errors",
    "TrackingError": "mlrecipes.core.errors",
    "UnknownStepError": "mlrecipes.core.errors",
    "UserError": "mlrecipes.core.errors",
    "Manifest": "mlrecipes.core.manifest",
    "load_manifest": "mlrecipes.core.manifest",
    "manifest_json_schema": "mlrecipes.core.manifest",
    "find_manifest": "mlrecipes.core.manifest.discover",
    "Plan": "mlrecipes.core.plan.planner",
    "PlannedStep": "mlrecipes.core.plan.planner",
    "Variant": "mlrecipes.core.plan.planner",
    "RunOptions": "mlrecipes.core.run.options",
    "RunResult": "mlrecipes.core.run.options",
    "Lock": "mlrecipes.core.sync.lock",
    "LockedRepo": "mlrecipes.core.sync.lock",
    "read_lock": "mlrecipes.core.sync.lock",
    "RepoStatus": "mlrecipes.core.sync.status",
    "SyncMode": "mlrecipes.core.sync.workspace_sync",
    "SyncResult": "mlrecipes.core.sync.workspace_sync",
    "Trial": "mlrecipes.core.tune",
    "TuneOptions": "mlrecipes.core.tune",
    "TuneResult": "mlrecipes.core.tune",
    "Workspace": "mlrecipes.core.workspace",
}


__getattr__ = lazy_attributes(__name__, _SOURCES, globals())


__all__ = [
    "DriftDetected",
    "EnvironmentBuildError",
    "Lock",
    "LockError",
    "LockedRepo",
    "Manifest",
    "ManifestError",
    "MissingExtra",
    "MlrecipesError",
    "OverrideError",
    "Plan",
    "PlannedStep",
    "Problem",
    "PythonNotAvailable",
    "RepoStatus",
    "ReproduceError",
    "RunOptions",
    "RunResult",
    "SearchSpaceError",
    "StepFailed",
    "StoreError",
    "SyncMode",
    "SyncResult",
    "TrackingError",
    "Trial",
    "TuneOptions",
    "TuneResult",
    "UnknownStepError",
    "UserError",
    "Variant",
    "Workspace",
    "find_manifest",
    "load_manifest",
    "manifest_json_schema",
    "read_lock",
]
