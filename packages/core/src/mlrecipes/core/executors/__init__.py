"""Executors run step tasks: :class:`LocalExecutor` (subprocesses) implements :class:`Executor`.

``launch_runner`` and ``node_name`` are what a Ray node runs and reports in
either storage mode (Ray's ``store`` mode lives in the team store layer).
"""

from mlrecipes.core.executors._ray_node import launch as launch_runner
from mlrecipes.core.executors._ray_node import node_name
from mlrecipes.core.executors.base import Executor, Outcome, read_outcome
from mlrecipes.core.executors.local import LocalExecutor, dropped_search_path, subprocess_env

__all__ = [
    "Executor",
    "LocalExecutor",
    "Outcome",
    "dropped_search_path",
    "launch_runner",
    "node_name",
    "read_outcome",
    "subprocess_env",
]
