"""Where studies live: ``.mlrecipes/optuna.db`` by default, or any Optuna storage URL."""

from __future__ import annotations

from pathlib import Path

from mlrecipes.git_sources import redact_text

STUDY_DB = "optuna.db"


def default_storage(state: Path) -> str:
    """Optuna's RDB storage in the workspace's state folder (git-ignored)."""
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(state / STUDY_DB).resolve()}"


def redact_storage(url: str) -> str:
    """``url`` without a password, fit for messages and MLflow."""
    return redact_text(url)
