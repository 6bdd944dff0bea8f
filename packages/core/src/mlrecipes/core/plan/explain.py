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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlrecipes.core.manifest.resolve import is_masked, unmask_digest
from mlrecipes.git_sources import short_commit

NEVER_RUN = "no store entry (never run)"


def nearest_reasons(
    now: Mapping[str, Any],
    before: Sequence[Mapping[str, Any]],
    *,
    code_note: str | None = None,
    code_files: bool = False,
) -> tuple[str, ...]:
    """The reasons against the execution in ``before`` (most recent first) nearest to ``now``.

    ``code_note`` details a changed tree: the files a code record found changed
    (``code_files``: ``code changed: feats/hello.py``), or why the tree rule
    applied (added in parentheses).
    """
    if not before:
        return (NEVER_RUN,)
    best = min((explain_change(old, now) for old in before), key=len)  # min keeps the first
    if code_note is not None:
        best = _with_code_note(best, code_note, code_files)
    return best or ("no store entry",)


def _with_code_note(reasons: tuple[str, ...], note: str, files: bool) -> tuple[str, ...]:
    """The code reason with what the record found (``files``: ``code changed: a@1 -> a@2:
    a/x.py``; alone when only a used repo's commit shows) or why the tree rule applied."""
    if files and not any(r.startswith(CODE_CHANGED) for r in reasons):
        # Only the environment moved (a used repo, a workspace member): its line says
        # which commit, the record which files.
        moved = [i for i, r in enumerate(reasons) if r.startswith(_CODE_IN_ENV)]
        if not moved:
            return (*reasons, CODE_CHANGED + note) if reasons else reasons
        first = moved[0]
        return (*reasons[:first], f"{reasons[first]}: {note}", *reasons[first + 1 :])
    return tuple(
        (f"{r}: {note}" if files else f"{r} ({note})") if r.startswith(CODE_CHANGED) else r
        for r in reasons
    )


def _short(value: Any) -> str:
    value = unmask_digest(value)  # a secret's digest is for comparing, not for reading
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


def _function(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    return [f"function changed: {before.get('fn')} -> {now['fn']}"]


def _inputs(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    old_inputs, new_inputs = before.get("inputs") or {}, now["inputs"]
    keys = sorted(set(old_inputs) | set(new_inputs))
    return [f"input changed: {k}" for k in keys if old_inputs.get(k) != new_inputs.get(k)]


_Explainer = Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]
# One explainer per field the fingerprint hashes (plan/identity.py), in the order
# reasons are listed: a reason is only ever given for a hashed field that differs.
EXPLAINERS: Mapping[str, _Explainer] = {
    "fn": _function,
    "code": lambda before, now: [explain_code(before, now)],
    "env": lambda before, now: _environment_changes(before, now),
    "params": lambda before, now: _param_changes(before.get("params") or {}, now["params"]),
    "inputs": _inputs,
    "outputs": lambda before, now: ["outputs changed"],
}
HASHED = tuple(EXPLAINERS)
"""The components a step's fingerprint hashes, and the only ones a reason may name."""
CODE_CHANGED = "code changed: "
_CODE_IN_ENV = ("used repo changed: ", "package changed: ")


def explain_change(before: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[str, ...]:
    """Human reasons why ``now`` differs from the execution ``before``."""
    reasons: list[str] = []
    for key, explain in EXPLAINERS.items():
        if before.get(key) != now[key]:
            reasons += explain(before, now)
    return tuple(reasons)


def _environment_changes(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Which used repo or which installed package changed an environment, if recorded."""
    # Executions recorded before `uses` existed have no such key: nothing to compare.
    moved = _moved_uses(before["uses"], now.get("uses") or {}) if "uses" in before else []
    if moved:
        return moved
    # The repo's own editable install (its folder's tree is the code's tree) moves
    # with its code: "code changed" says that already.
    own = "@" + str(now.get("code")).partition("@")[2][:7]
    changed = [
        line
        for line in _changed_packages(before.get("packages"), now.get("packages"))
        if not line.endswith(own)
    ]
    if not changed:
        return [] if before.get("code") != now.get("code") else ["environment changed"]
    more = [f"and {len(changed) - 3} more packages changed"] if len(changed) > 3 else []
    return changed[:3] + more


def _moved_uses(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """``used repo changed: lib@1a2b3c4 -> lib@5d6e7f8`` (trees when the commits are equal)."""
    moved = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old == new:
            continue
        sides = []
        for side in (old, new):
            if not isinstance(side, Mapping):
                sides.append("(not used)")
                continue
            text = f"{name}@{short_commit(str(side.get('commit')))}"
            if old and new and isinstance(old, Mapping) and old.get("commit") == new.get("commit"):
                text += f" (tree {short_commit(str(side.get('tree')))})"
            sides.append(text)
        moved.append(f"used repo changed: {sides[0]} -> {sides[1]}")
    return moved


def _changed_packages(before: Mapping[str, str] | None, now: Mapping[str, str] | None) -> list[str]:
    """``package changed: six 1.16.0 -> 1.17.0`` for every distribution that changed."""
    if not before or not now:
        return []
    names = [n for n in sorted(set(before) | set(now)) if before.get(n) != now.get(n)]
    return [
        f"package changed: {n} {before.get(n, '(none)')} -> {now.get(n, '(none)')}" for n in names
    ]


def _param_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(old) | set(new)):
        old_v, new_v = old.get(key, "<unset>"), new.get(key, "<unset>")
        if old_v != new_v:
            changes.append(_param_change(key, old_v, new_v))
    return changes


def _param_change(key: str, old: Any, new: Any) -> str:
    """One ``params changed`` reason; a secret's values are never shown (old records
    written before masking may hold one in clear, so a masked side hides both)."""
    if is_masked(new) or is_masked(old):
        shown = _short(new if is_masked(new) else old)
        return f"params changed: {key}: {shown} (value changed)"
    return f"params changed: {key}: {_short(old)} -> {_short(new)}"
