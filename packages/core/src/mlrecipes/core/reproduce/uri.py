"""Which tracking store ``reproduce`` reads the run from and logs the reproduction to."""

from __future__ import annotations

import os
from pathlib import Path

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import load_manifest
from mlrecipes.core.tracking.uri import tracking_uri


def reproduce_tracking_uri(explicit: str | None = None, *, manifest: Path | None = None) -> str:
    """``explicit`` (``--tracking-uri``), else ``MLFLOW_TRACKING_URI``, else the store of
    ``manifest`` or of the ``workspace.yaml`` in this folder or the nearest parent.

    A relative sqlite path or folder is taken relative to the current folder.
    """
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return _absolute(uri)
    from mlrecipes.core.manifest.discover import find_manifest

    try:
        path = find_manifest(manifest)
    except UserError:
        raise UserError(
            "no tracking URI: reproduce needs the MLflow store that holds the run",
            hint="pass `tracking_uri`, set MLFLOW_TRACKING_URI, or run it in the workspace "
            "folder whose store logged the run",
        ) from None
    return tracking_uri(load_manifest(path, local=False))


def _absolute(uri: str) -> str:
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"
    if "://" not in uri and not uri.startswith("databricks"):
        return str(Path(uri).expanduser().resolve())
    return uri
