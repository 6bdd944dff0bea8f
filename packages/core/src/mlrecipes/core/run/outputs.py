"""Making declared ``!path`` outputs appear where the manifest says."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlrecipes.core.plan.planner import PlannedStep
from mlrecipes.core.store.local import Store


def link_declared_outputs(store: Store, steps: Iterable[PlannedStep], workspace_root: Path) -> None:
    """Link each declared output of each complete step to its store entry.

    In a sweep, callers pass the last variant's steps: the declared place shows
    that variant, and every variant's outputs stay in the store.
    """
    for step in steps:
        if not step.declared or not store.is_complete(step.step, step.fingerprint):
            continue
        entry = store.entry(step.step, step.fingerprint)
        for name, place in step.declared.items():
            store.link_output(entry, step.outputs[name], place, workspace_root)
