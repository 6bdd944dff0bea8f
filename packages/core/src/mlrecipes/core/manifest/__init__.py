"""The workspace manifest: loading, validation, JSON Schema, parameter resolution."""

from mlrecipes.core.manifest._frozen import FrozenMap
from mlrecipes.core.manifest._overrides import SECRET_MASK, parse_value, public_overrides
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
    SecretRef,
    StepSpec,
    StoreConfig,
    StoreOut,
    Value,
)
from mlrecipes.core.manifest.resolve import (
    JSON,
    apply_overrides,
    public_params,
    resolve_params,
)
from mlrecipes.core.manifest.schema import manifest_json_schema

__all__ = [
    "JSON",
    "SECRET_MASK",
    "SUPPORTED_VERSIONS",
    "Dep",
    "EnvRef",
    "ExecutorConfig",
    "FnRef",
    "FrozenMap",
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
    "SecretRef",
    "StepSpec",
    "StoreConfig",
    "StoreOut",
    "Value",
    "apply_overrides",
    "load_manifest",
    "manifest_json_schema",
    "parse_value",
    "public_overrides",
    "public_params",
    "resolve_params",
    "with_dev_paths",
]
