"""mlrecipes.core: manifest, lock, uv environments, DAG, store, executors, MLflow tracking.

The Python API::

    from mlrecipes.core import Workspace, RunOptions

    ws = Workspace.load("workspace.yaml")
    ws.sync()
    result = ws.run(options=RunOptions(overrides=["train.lr=0.01"]))

The core never prints and never parses argv; it emits events (``mlrecipes.core.events``).
"""

from mlrecipes.core.discover import find_manifest
from mlrecipes.core.errors import (
    DriftDetected,
    EnvironmentBuildError,
    LockError,
    ManifestError,
    MlrecipesError,
    OverrideError,
    Problem,
    PythonNotAvailable,
    ReproduceError,
    StepFailed,
    StoreError,
    TrackingError,
    UnknownStepError,
    UserError,
)
from mlrecipes.core.lock import Lock, LockedRepo, read_lock
from mlrecipes.core.manifest import Manifest, load_manifest, manifest_json_schema
from mlrecipes.core.plan import Plan, PlannedStep, Variant
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.status import RepoStatus
from mlrecipes.core.syncing import SyncMode, SyncResult, sync_mode
from mlrecipes.core.workspace import Workspace

__all__ = [
    "DriftDetected",
    "EnvironmentBuildError",
    "Lock",
    "LockError",
    "LockedRepo",
    "Manifest",
    "ManifestError",
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
    "StepFailed",
    "StoreError",
    "SyncMode",
    "SyncResult",
    "TrackingError",
    "UnknownStepError",
    "UserError",
    "Variant",
    "Workspace",
    "find_manifest",
    "load_manifest",
    "manifest_json_schema",
    "read_lock",
    "sync_mode",
]
