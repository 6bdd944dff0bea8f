"""How a sweep names its variants, in ``--dry-run`` and in every line of a run's output.

A variant is named by the overrides that vary across the sweep (``variant 1:
train.lr=0.5 seed=1``; a value every variant shares says nothing). An execution
shared by several variants (same fingerprint) is named by what those variants
have in common, or by their numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlrecipes.core.plan.planner import Plan, Variant


def _varying(variants: Sequence[Variant]) -> list[str]:
    keys: list[str] = []
    for variant in variants:
        keys += [k for k in variant.overrides if k not in keys]
    return [k for k in keys if len({v.overrides.get(k) for v in variants}) > 1]


def _sets(overrides: Mapping[str, str], keys: Sequence[str]) -> str:
    return " ".join(f"{k}={overrides[k]}" for k in keys if k in overrides)


def variant_label(plan: Plan, variant: Variant) -> str:
    """``variant 1: train.lr=0.5 seed=1`` (the dry-run's header of that variant)."""
    sets = _sets(variant.overrides, _varying(plan.variants))
    return f"variant {variant.index}: {sets}" if sets else f"variant {variant.index}"


def execution_labels(plan: Plan) -> dict[str, str]:
    """Fingerprint -> the variants it serves; empty for a plan of one variant."""
    if len(plan.variants) < 2:
        return {}
    served: dict[str, list[Variant]] = {}
    for variant in plan.variants:
        for step in variant.steps:
            served.setdefault(step.fingerprint, []).append(variant)
    keys = _varying(plan.variants)
    return {fp: _shared_label(plan, group, keys) for fp, group in served.items()}


def _shared_label(plan: Plan, group: Sequence[Variant], keys: Sequence[str]) -> str:
    if len(group) == 1:
        return variant_label(plan, group[0])
    if len(group) == len(plan.variants):
        return "all variants"
    first = group[0].overrides
    common = [k for k in keys if all(v.overrides.get(k) == first.get(k) for v in group)]
    numbers = ", ".join(str(v.index) for v in group)
    sets = _sets(first, common)
    return f"variants {numbers}: {sets}" if sets else f"variants {numbers}"
