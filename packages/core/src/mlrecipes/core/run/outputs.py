"""Making declared ``!path`` outputs appear where the manifest says."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlrecipes.core.errors import StoreError
from mlrecipes.core.plan.planner import PlannedStep
from mlrecipes.core.store.local import Store


def link_declared_outputs(store: Store, steps: Iterable[PlannedStep], workspace_root: Path) -> None:
    """Link each declared output of each complete step to its store entry.

    In a sweep, callers pass the last variant's steps: the declared place shows
    that variant, and every variant's outputs stay in the store. A place that
    cannot be linked does not stop the others: every other output is linked,
    then the first problem is raised.
    """
    problems: list[StoreError] = []
    for step in steps:
        if not step.declared or not store.is_complete(step.step, step.fingerprint):
            continue
        entry = store.entry(step.step, step.fingerprint)
        for name, place in step.declared.items():
            try:
                store.link_output(entry, step.outputs[name], place, workspace_root)
            except StoreError as exc:
                problems.append(exc)
    if problems:
        raise _combined(problems)


def check_declared_outputs(
    store: Store, steps: Iterable[PlannedStep], workspace_root: Path
) -> None:
    """Raise before anything runs when a declared place cannot take its output.

    An existing file that mlrecipes did not put there, or a place outside the
    workspace: found now, not after the steps ran.
    """
    problems: list[StoreError] = []
    for step in steps:
        for place in step.declared.values():
            try:
                store.check_declared(place, step.step, workspace_root)
            except StoreError as exc:
                problems.append(exc)
    if problems:
        raise _combined(problems)


def _combined(problems: list[StoreError]) -> StoreError:
    first = problems[0]
    if len(problems) == 1:
        return first
    more = f" (and {len(problems) - 1} more: " + "; ".join(str(p) for p in problems[1:]) + ")"
    return StoreError(str(first) + more, step=first.step, hint=first.hint)
