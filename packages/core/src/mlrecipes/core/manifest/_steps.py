"""Structure of ``steps``: each step's keys, kinds of values and names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from mlrecipes.core.manifest._cache import build_cache
from mlrecipes.core.manifest._context import Context, describe
from mlrecipes.core.manifest._formats import (
    kwarg_problem,
    name_problem,
    normalize_rel,
    parse_fn,
    parse_memory,
    reserved_problem,
)
from mlrecipes.core.manifest._frozen import FrozenMap
from mlrecipes.core.manifest._values import check_logged_name, out_ref, param_value, path_ref
from mlrecipes.core.manifest._yaml import BROKEN, Broken, Entry, Tagged, YMap
from mlrecipes.core.manifest.mlflow_names import step_name_problem
from mlrecipes.core.manifest.model import (
    Dep,
    FnRef,
    Out,
    Resources,
    StepSpec,
    StoreOut,
    Value,
)

STEP_KEYS = ("fn", "params", "deps", "outs", "resources", "cache")
# Other repos' code reaches a step through its repo's environment, not the step.
_USES_HINT = (
    "a step runs in its repo's environment: to install other repos into it, "
    "give that repo `uses: [OTHER]` under `repos:`"
)
MISPLACED_STEP_KEYS = {"repos": _USES_HINT, "uses": _USES_HINT}
RESOURCE_KEYS = ("cpus", "gpus", "memory", "custom")
# Stands for an `fn` that has a problem already reported; meaning checks skip it.
BROKEN_FN = FnRef("", "", "")
T = TypeVar("T")


def build_steps(ctx: Context, entry: Entry) -> dict[str, StepSpec]:
    """Every step of ``steps`` that could be read (its problems are in ``ctx``)."""
    ymap = ctx.mapping(entry.value, entry.value_loc, "steps")
    if ymap is None:
        return {}
    ctx.keys(ymap, "steps", list(ymap.entries))
    steps: dict[str, StepSpec] = {}
    for name, step_entry in ymap.entries.items():
        if why := name_problem(name) or step_name_problem(name):
            ctx.report(step_entry.key_loc, f"step {why}", f"steps.{name}")
        step = _build_step(ctx, name, step_entry)
        if step is not None:
            steps[name] = step
    return steps


def _build_step(ctx: Context, name: str, entry: Entry) -> StepSpec | None:
    path = f"steps.{name}"
    ymap = ctx.mapping(entry.value, entry.value_loc, path)
    if ymap is None:
        return None
    ctx.keys(ymap, path, STEP_KEYS, ("fn",), owner=entry.key_loc, hints=MISPLACED_STEP_KEYS)
    parts = ymap.entries
    fn = _fn(ctx, parts["fn"], f"{path}.fn") if "fn" in parts else BROKEN_FN
    params: dict[str, Value] = _section(ctx, parts.get("params"), f"{path}.params", _param)
    deps: dict[str, Dep] = _section(ctx, parts.get("deps"), f"{path}.deps", _dep)
    outs: dict[str, Out] = _section(ctx, parts.get("outs"), f"{path}.outs", _out)
    resources = _resources(ctx, parts.get("resources"), f"{path}.resources")
    _check_kwargs(ctx, name, ymap)
    return StepSpec(
        name=name,
        fn=fn,
        params=FrozenMap(params),
        deps=FrozenMap(deps),
        outs=FrozenMap(outs),
        resources=resources,
        loc=entry.key_loc,
        code=build_cache(ctx, parts.get("cache"), f"{path}.cache"),
    )


def _fn(ctx: Context, entry: Entry, key_path: str) -> FnRef:
    text = ctx.text(entry, key_path)
    if text is None:
        return BROKEN_FN
    fn = parse_fn(text)
    if fn is None:
        ctx.report(
            entry.value_loc,
            f"fn {text!r} is not of the form repo:module.func",
            key_path,
            "e.g. features:churn_features.build.make_features (module churn_features.build)",
        )
        return BROKEN_FN
    return fn


def _section(
    ctx: Context,
    entry: Entry | None,
    key_path: str,
    convert: Callable[[Context, Entry, str], T | Broken],
) -> dict[str, T]:
    """A mapping of keyword-argument names to converted values."""
    if entry is None:
        return {}
    ymap = ctx.mapping(entry.value, entry.value_loc, key_path)
    if ymap is None:
        return {}
    ctx.keys(ymap, key_path, list(ymap.entries))
    result: dict[str, T] = {}
    for key, item in ymap.entries.items():
        if why := kwarg_problem(key):
            ctx.report(item.key_loc, why, f"{key_path}.{key}")
        else:
            check_logged_name(ctx, item.key_loc, f"{key_path}.{key}")
        value = convert(ctx, item, f"{key_path}.{key}")
        if not isinstance(value, Broken):
            result[key] = value
    return result


def _param(ctx: Context, entry: Entry, key_path: str) -> Value | Broken:
    return param_value(ctx, entry.value, entry.value_loc, key_path)


def _dep(ctx: Context, entry: Entry, key_path: str) -> Dep | Broken:
    value = entry.value
    if isinstance(value, Tagged) and value.tag == "!path":
        return path_ref(ctx, value, key_path) or BROKEN
    if isinstance(value, Tagged) and value.tag == "!out":
        return out_ref(ctx, value, key_path) or BROKEN
    if not isinstance(value, Broken):
        ctx.report(
            entry.value_loc,
            f"a dep must be !path or !out, got {describe(value)}",
            key_path,
            "write !path ROOT/file for a file, or !out STEP.OUTPUT for another step's output",
        )
    return BROKEN


def _out(ctx: Context, entry: Entry, key_path: str) -> Out | Broken:
    value = entry.value
    if isinstance(value, Tagged) and value.tag == "!path":
        return path_ref(ctx, value, key_path) or BROKEN
    if isinstance(value, str):
        rel, why = normalize_rel(value)
        why = why or reserved_problem(rel)
        if why is None and rel:
            return StoreOut(rel, entry.value_loc)
        ctx.report(
            entry.value_loc,
            f"out {value!r} {why or 'is empty'}",
            key_path,
            "a plain out is a path inside the step's store entry, such as model.pkl",
        )
    elif not isinstance(value, Broken):
        ctx.report(
            entry.value_loc,
            f"an out must be !path or a relative path, got {describe(value)}",
            key_path,
            "write !path ROOT/file (a declared place) or a file name (kept in the store only)",
        )
    return BROKEN


def _resources(ctx: Context, entry: Entry | None, key_path: str) -> Resources:
    if entry is None:
        return Resources()
    ymap = ctx.mapping(entry.value, entry.value_loc, key_path)
    if ymap is None:
        return Resources()
    ctx.keys(ymap, key_path, RESOURCE_KEYS)
    counts: dict[str, float | None] = {"cpus": None, "gpus": None}
    for key in counts:
        item = ymap.entries.get(key)
        if item is None:
            continue
        value = item.value
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            counts[key] = float(value)
        else:
            ctx.report(item.value_loc, f"{key} must be a number >= 0", f"{key_path}.{key}")
    memory = _memory(ctx, ymap, key_path)
    return Resources(counts["cpus"], counts["gpus"], memory, _custom(ctx, ymap, key_path))


def _custom(ctx: Context, ymap: YMap, key_path: str) -> FrozenMap[str, float]:
    """``custom: {name: amount}``: Ray custom resources, each a number >= 0."""
    item = ymap.entries.get("custom")
    if item is None:
        return FrozenMap()
    custom = ctx.mapping(item.value, item.value_loc, f"{key_path}.custom")
    found: dict[str, float] = {}
    for name, entry in (custom.entries if custom is not None else {}).items():
        value = entry.value
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            found[name] = float(value)
        else:
            where = f"{key_path}.custom.{name}"
            ctx.report(entry.value_loc, f"custom resource {name!r} must be a number >= 0", where)
    return FrozenMap(found)


def _memory(ctx: Context, ymap: YMap, key_path: str) -> int | None:
    item = ymap.entries.get("memory")
    if item is None:
        return None
    value = item.value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        size = parse_memory(value)
        if size is not None:
            return size
    ctx.report(
        item.value_loc,
        f'memory must be bytes or a size such as "4GB" or "512MiB", got {describe(value)}'
        if not isinstance(value, str)
        else f'memory {value!r} is not a size such as "4GB" or "512MiB"',
        f"{key_path}.memory",
    )
    return None


def _check_kwargs(ctx: Context, step: str, ymap: YMap) -> None:
    """params, deps and outs are all keyword arguments of one function: no name twice."""
    seen: dict[str, str] = {}
    for section in ("params", "deps", "outs"):
        entry = ymap.entries.get(section)
        if entry is None or not isinstance(entry.value, YMap):
            continue
        for key, item in entry.value.entries.items():
            if key in seen:
                ctx.report(
                    item.key_loc,
                    f"{key!r} is both in {seen[key]} and in {section} of step {step!r}",
                    f"steps.{step}.{section}.{key}",
                    "they are all keyword arguments of the step's function: rename one",
                )
            else:
                seen[key] = section
