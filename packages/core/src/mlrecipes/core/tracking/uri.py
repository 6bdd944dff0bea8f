"""Which MLflow tracking store a workspace logs to."""

from __future__ import annotations

from pathlib import Path

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest import EnvRef, Manifest
from mlrecipes.core.paths import WorkspacePaths


def tracking_uri(manifest: Manifest) -> str:
    """The manifest's ``mlflow.tracking_uri``, else the embedded default.

    The embedded default is ``sqlite:///<workspace>/.mlrecipes/mlflow.db``. A
    relative sqlite path (``sqlite:///.mlrecipes/mlflow.db``) or a plain relative
    folder is taken relative to the manifest's folder, not to the current one, so
    a command gives the same store wherever it is started.
    """
    configured = manifest.mlflow.tracking_uri
    if isinstance(configured, EnvRef):
        try:
            configured = configured.resolve()
        except KeyError as exc:
            raise UserError(
                f"mlflow.tracking_uri reads environment variable {exc.args[0]}, which is not set",
                hint=f"export {exc.args[0]}, or give a default: !env {exc.args[0]}:sqlite:///...",
            ) from None
    if not configured:
        return f"sqlite:///{WorkspacePaths.for_manifest(manifest).mlflow_db}"
    if configured.startswith("sqlite:///"):
        db = Path(configured.removeprefix("sqlite:///"))
        if not db.is_absolute() and not configured.startswith("sqlite:////"):
            return f"sqlite:///{(manifest.root / db).resolve()}"
        return configured
    if "://" not in configured and not configured.startswith("databricks"):
        return str((manifest.root / configured).resolve())
    return configured
