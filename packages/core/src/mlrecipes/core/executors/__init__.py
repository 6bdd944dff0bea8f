"""Executors run step tasks: :class:`LocalExecutor` (subprocesses) implements :class:`Executor`."""

from mlrecipes.core.executors.base import Executor, Outcome, read_outcome
from mlrecipes.core.executors.local import LocalExecutor, subprocess_env

__all__ = ["Executor", "LocalExecutor", "Outcome", "read_outcome", "subprocess_env"]
