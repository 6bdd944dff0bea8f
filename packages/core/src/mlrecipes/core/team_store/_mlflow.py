"""The team store's only door to MLflow: clients, artifact repositories, safe messages.

MLflow is imported inside functions (``import mlflow`` takes seconds). Every
message that leaves this package goes through :func:`safe_reason`, which drops
userinfo (``https://user:token@host``) and credential query strings (pre-signed
URLs carry them) from whatever an HTTP or S3 library put into it, by git_sources'
one redaction rule.
"""

from __future__ import annotations

from typing import Any

from mlrecipes.core.tracking import check_connection as _check_connection
from mlrecipes.core.tracking import make_client as _make_client
from mlrecipes.git_sources import redact_text


def make_client(tracking_uri: str) -> Any:
    """An ``MlflowClient`` for ``tracking_uri``."""
    return _make_client(tracking_uri)


def check_connection(client: Any, tracking_uri: str) -> None:
    """Raise (a ``TrackingError``) at once when the server cannot be reached."""
    _check_connection(client, tracking_uri)


def artifact_repo(artifact_uri: str, tracking_uri: str) -> Any:
    """The artifact repository of one run (``mlflow-artifacts:``, ``s3://``, a folder...)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)


def safe_reason(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``, without credentials, fit for one line of output."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = redact_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
