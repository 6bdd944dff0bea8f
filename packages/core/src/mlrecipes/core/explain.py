"""Why a step reruns: its components now against the nearest recorded execution.

The nearest execution is the one whose components differ least from now (the
most recent among equals), so after a sweep the baseline is compared with the
baseline, not with whichever variant ran last, and a reason lists only what
actually differs. Code is named by commit, as ``git log`` shows it; a tree SHA
appears only where the commit alone cannot tell the difference (a dev copy's
uncommitted changes), and then labelled ``tree``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mlrecipes.git_sources import short_commit

NEVER_RUN = "no store entry (never run)"


def nearest_reasons(now: Mapping[str, Any], before: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The reasons against the execution in ``before`` (most recent first) nearest to ``now``."""
    if not before:
        return (NEVER_RUN,)
    best = min((explain_change(old, now) for old in before), key=len)  # min keeps the first
    return best or ("no store entry",)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _tree(code: Any) -> str:
    """``repo@<tree>`` as recorded -> ``tree <short>``."""
    return f"tree {short_commit(str(code).partition('@')[2])}"


def _code_side(components: Mapping[str, Any]) -> str:
    """How one side of a code change reads: ``repo@commit``, plus the tree where needed."""
    commit = components.get("commit")
    if not commit:  # recorded before commits were: only the tree is known
        return f"{str(components.get('code')).partition('@')[0]} ({_tree(components.get('code'))})"
    repo, _, sha = str(commit).partition("@")
    text = f"{repo}@{short_commit(sha)}"
    return text + " with uncommitted changes" if components.get("dirty") else text


def explain_code(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """``code changed: models@df6440b -> models@1b2c3d4`` (trees only when commits are equal)."""
    old, new = _code_side(before), _code_side(now)
    if old == new or before.get("commit") == now.get("commit"):
        old = f"{old} ({_tree(before.get('code'))})"
        new = f"{new} ({_tree(now.get('code'))})"
    return f"code changed: {old} -> {new}"


def explain_change(before: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[str, ...]:
    """Human reasons why ``now`` differs from the execution ``before``."""
    reasons: list[str] = []
    if before.get("fn") != now["fn"]:
        reasons.append(f"function changed: {before.get('fn')} -> {now['fn']}")
    if before.get("code") != now["code"]:
        reasons.append(explain_code(before, now))
    if before.get("env") != now["env"]:
        reasons.append("environment changed")
    reasons += _param_changes(before.get("params") or {}, now["params"])
    old_inputs, new_inputs = before.get("inputs") or {}, now["inputs"]
    for key in sorted(set(old_inputs) | set(new_inputs)):
        if old_inputs.get(key) != new_inputs.get(key):
            reasons.append(f"input changed: {key}")
    if before.get("outputs") != now["outputs"]:
        reasons.append("outputs changed")
    return tuple(reasons)


def _param_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(old) | set(new)):
        old_v, new_v = old.get(key, "<unset>"), new.get(key, "<unset>")
        if old_v != new_v:
            changes.append(f"params changed: {key}: {_short(old_v)} -> {_short(new_v)}")
    return changes
