"""The workspace manifest: loading, validation, JSON Schema, parameter resolution."""

from mlrecipes.core.manifest.load import load_manifest, with_dev_paths
from mlrecipes.core.manifest.model import (
    SUPPORTED_VERSIONS,
    Dep,
    EnvRef,
    ExecutorConfig,
    FnRef,
    Location,
    Manifest,
    MlflowConfig,
    Out,
    OutRef,
    ParamRef,
    PathRef,
    RepoSpec,
    Resources,
    Scalar,
    StepSpec,
    StoreConfig,
    StoreOut,
    Value,
)
from mlrecipes.core.manifest.resolve import JSON, apply_overrides, resolve_params
from mlrecipes.core.manifest.schema import manifest_json_schema

__all__ = [
    "JSON",
    "SUPPORTED_VERSIONS",
    "Dep",
    "EnvRef",
    "ExecutorConfig",
    "FnRef",
    "Location",
    "Manifest",
    "MlflowConfig",
    "Out",
    "OutRef",
    "ParamRef",
    "PathRef",
    "RepoSpec",
    "Resources",
    "Scalar",
    "StepSpec",
    "StoreConfig",
    "StoreOut",
    "Value",
    "apply_overrides",
    "load_manifest",
    "manifest_json_schema",
    "resolve_params",
    "with_dev_paths",
]
