"""Where studies live: ``.mlrecipes/optuna.db`` by default, or any Optuna storage URL."""

from __future__ import annotations

from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.git_sources import redact_text


def default_storage(paths: WorkspacePaths) -> str:
    """Optuna's RDB storage in the workspace's state folder (git-ignored)."""
    paths.state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{paths.study_db.resolve()}"


def redact_storage(url: str) -> str:
    """``url`` without a password, fit for messages and MLflow."""
    return redact_text(url)
