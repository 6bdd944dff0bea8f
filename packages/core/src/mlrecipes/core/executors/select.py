"""Choosing an executor: ``local`` (the default) or ``ray``, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, get_args

from mlrecipes.core.errors import UserError
from mlrecipes.core.executors.base import Executor
from mlrecipes.core.executors.local import LocalExecutor
from mlrecipes.core.executors.task import StepTask
from mlrecipes.core.manifest.model import Resources

if TYPE_CHECKING:
    from mlrecipes.core.executors.ray import KeyedTasks

ExecutorKind = Literal["local", "ray"]
EXECUTOR_KINDS: tuple[str, ...] = get_args(ExecutorKind)


def make_executor(
    kind: str,
    *,
    jobs: int,
    address: str | None = None,
    resources_of: Callable[[StepTask], Resources | None] | None = None,
    store: KeyedTasks | None = None,
) -> Executor:
    """An executor of ``kind``.

    ``local`` runs at most ``jobs`` steps at once as subprocesses and ignores
    ``address`` and resources; ``ray`` connects to the cluster at ``address``
    (see :class:`~mlrecipes.core.executors.ray.RayExecutor`) and asks it for
    ``resources_of(task)``; with ``store`` its tasks carry keys, not paths (Ray's
    ``store`` mode, see :mod:`~mlrecipes.core.team_store.ray_driver`). Raises
    :class:`UserError` for an unknown kind, and for ``ray`` when Ray is not
    installed or the cluster cannot be reached.
    """
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "ray":
        # Imported here so that `import mlrecipes.core` never imports Ray.
        from mlrecipes.core.executors.ray import RayExecutor

        return RayExecutor(address=address, resources_of=resources_of, store=store)
    from mlrecipes.core.suggest import did_you_mean

    raise UserError(f"unknown executor {kind!r}", hint=did_you_mean(kind, EXECUTOR_KINDS))


__all__ = ["EXECUTOR_KINDS", "ExecutorKind", "make_executor"]
