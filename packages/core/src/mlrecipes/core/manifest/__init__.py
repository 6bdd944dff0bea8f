"""The workspace manifest: loading, validation, JSON Schema, parameter resolution.

Names are imported on first use (PEP 562): Tab completion and manifest discovery
import one module of this package, not the loader and its dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlrecipes.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from mlrecipes.core.manifest._frozen import FrozenMap
    from mlrecipes.core.manifest._local import local_path
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

# Each public name and the module that defines it.
_SOURCES: dict[str, str] = {
    "FrozenMap": "mlrecipes.core.manifest._frozen",
    "SECRET_MASK": "mlrecipes.core.manifest._overrides",
    "parse_value": "mlrecipes.core.manifest._overrides",
    "public_overrides": "mlrecipes.core.manifest._overrides",
    "load_manifest": "mlrecipes.core.manifest.load",
    "with_dev_paths": "mlrecipes.core.manifest.load",
    "SUPPORTED_VERSIONS": "mlrecipes.core.manifest.model",
    "Dep": "mlrecipes.core.manifest.model",
    "EnvRef": "mlrecipes.core.manifest.model",
    "ExecutorConfig": "mlrecipes.core.manifest.model",
    "FnRef": "mlrecipes.core.manifest.model",
    "Location": "mlrecipes.core.manifest.model",
    "Manifest": "mlrecipes.core.manifest.model",
    "MlflowConfig": "mlrecipes.core.manifest.model",
    "Out": "mlrecipes.core.manifest.model",
    "OutRef": "mlrecipes.core.manifest.model",
    "ParamRef": "mlrecipes.core.manifest.model",
    "PathRef": "mlrecipes.core.manifest.model",
    "RepoSpec": "mlrecipes.core.manifest.model",
    "Resources": "mlrecipes.core.manifest.model",
    "Scalar": "mlrecipes.core.manifest.model",
    "SecretRef": "mlrecipes.core.manifest.model",
    "StepSpec": "mlrecipes.core.manifest.model",
    "StoreConfig": "mlrecipes.core.manifest.model",
    "StoreOut": "mlrecipes.core.manifest.model",
    "Value": "mlrecipes.core.manifest.model",
    "JSON": "mlrecipes.core.manifest.resolve",
    "apply_overrides": "mlrecipes.core.manifest.resolve",
    "public_params": "mlrecipes.core.manifest.resolve",
    "resolve_params": "mlrecipes.core.manifest.resolve",
    "manifest_json_schema": "mlrecipes.core.manifest.schema",
    "local_path": "mlrecipes.core.manifest._local",
}


__getattr__ = lazy_attributes(__name__, _SOURCES, globals())


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
    "local_path",
    "manifest_json_schema",
    "parse_value",
    "public_overrides",
    "public_params",
    "resolve_params",
    "with_dev_paths",
]
