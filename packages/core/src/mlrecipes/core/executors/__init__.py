"""Executors run step tasks: :class:`LocalExecutor` (subprocesses) implements :class:`Executor`."""

from mlrecipes.core.executors.base import Executor, Outcome, read_outcome
from mlrecipes.core.executors.local import LocalExecutor, dropped_search_path, subprocess_env

__all__ = [
    "Executor",
    "LocalExecutor",
    "Outcome",
    "dropped_search_path",
    "read_outcome",
    "subprocess_env",
]
