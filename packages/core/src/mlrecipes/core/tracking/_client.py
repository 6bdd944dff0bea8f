"""Making an ``MlflowClient`` and turning its failures into :class:`TrackingError`.

The only module (with :mod:`.mlflow_tracker` and :mod:`.queries`) that imports
MLflow, and only inside functions: ``import mlflow`` takes seconds, and most
commands (``validate``, ``dag``, ``status``) never need it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlrecipes.core.errors import TrackingError
from mlrecipes.git_sources import redact_text
from mlrecipes.git_sources.urls import split_credentials

REMOTE_SCHEMES = frozenset({"http", "https", "databricks", "databricks-uc", "uc"})
# The connection probe must fail in seconds, not after MLflow's default of
# 7 retries with exponential backoff and a 120 s timeout each.
PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}


def step_tracking_env(uri: str, run_id: str) -> dict[str, str]:
    """What a step needs to log to ``run_id``, with no credential inside the URI.

    ``http://user:secret@host`` becomes ``MLFLOW_TRACKING_URI=http://host`` plus
    ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (MLflow's own
    variables for basic auth), so MLflow's "View run ... at: <uri>" line in the
    step's log holds no secret. A token alone (``http://token@host``) stays in
    the URI: MLflow sends basic auth only with both a user and a password.
    """
    clean, creds = split_credentials(uri)
    if creds is None or not creds.username or not creds.password:
        return {"MLFLOW_TRACKING_URI": uri, "MLFLOW_RUN_ID": run_id}
    return {
        "MLFLOW_TRACKING_URI": clean,
        "MLFLOW_TRACKING_USERNAME": creds.username,
        "MLFLOW_TRACKING_PASSWORD": creds.password,
        "MLFLOW_RUN_ID": run_id,
    }


def is_remote(uri: str) -> bool:
    """True when a server decides where artifacts go (http, Databricks)."""
    return urlsplit(uri).scheme in REMOTE_SCHEMES


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, absolute; None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri.removeprefix("sqlite:///").split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    path = Path(rest)
    return path if path.is_absolute() else path.resolve()


def make_client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri``; a sqlite store's folder is created first."""
    from mlflow import MlflowClient

    with translate_errors(uri, "open the MLflow tracking store"):
        db = sqlite_path(uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        return MlflowClient(tracking_uri=uri)


@contextmanager
def fail_fast_http() -> Iterator[None]:
    """Set :data:`PROBE_ENV` for the duration, then restore what was there."""
    saved = {name: os.environ.get(name) for name in PROBE_ENV}
    os.environ.update(PROBE_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_connection(client: Any, uri: str) -> None:
    """Fail fast with a :class:`TrackingError` when the store cannot be reached."""
    with fail_fast_http(), translate_errors(uri, "reach the MLflow tracking store"):
        client.search_experiments(max_results=1)


def unreachable_hint(uri: str) -> str:
    if is_remote(uri):
        return (
            f"is `mlflow server` running at {redact_text(uri)}? Start it, or point "
            "mlflow.tracking_uri in workspace.yaml (or MLFLOW_TRACKING_URI) elsewhere"
        )
    db = sqlite_path(uri)
    if db is not None:
        return f"check that {db.parent} is writable and {db.name} is an MLflow database"
    return "check mlflow.tracking_uri in workspace.yaml"


@contextmanager
def translate_errors(uri: str, doing: str) -> Iterator[None]:
    """Re-raise MLflow's and the network's errors as :class:`TrackingError`."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        if not _is_store_error(exc):
            raise
        reason = redact_text(_first_line(str(exc)))
        safe = redact_text(uri)
        unreachable = isinstance(exc, OSError) or _UNREACHABLE.search(str(exc)) is not None
        hint = unreachable_hint(uri) if unreachable else None
        raise TrackingError(f"cannot {doing} at {safe}: {reason}", uri=safe, hint=hint) from exc


# What requests and sqlite say when the store is not there (as opposed to a bad request).
_UNREACHABLE = re.compile(
    r"Max retries exceeded|Connection refused|Failed to establish|timed out|"
    r"unable to open database|Name or service not known|readonly database",
    re.IGNORECASE,
)


def _is_store_error(exc: Exception) -> bool:
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException | OSError | ConnectionError):
        return True
    # SQLAlchemy's and requests' errors, without importing either here.
    module = type(exc).__module__
    return module.startswith(("sqlalchemy", "requests", "urllib3"))


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= limit else line[: limit - 3] + "..."
