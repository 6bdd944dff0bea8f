"""mlrecipes.core: manifest, lock, uv environments, DAG, store, executors, MLflow tracking.

The Python API::

    from mlrecipes.core import Workspace, RunOptions

    ws = Workspace.load("workspace.yaml")
    ws.sync()
    result = ws.run(options=RunOptions(overrides=["train.lr=0.01"]))

The core never prints and never parses argv; it emits events (``mlrecipes.core.events``).
"""

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
