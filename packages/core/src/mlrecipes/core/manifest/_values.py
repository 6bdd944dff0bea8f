"""Tagged scalars and parameter values, checked for syntax and for where they may appear."""

from __future__ import annotations

from mlrecipes.core.manifest._context import Context
from mlrecipes.core.manifest._formats import (
    env_problem,
    kwarg_problem,
    name_problem,
    normalize_rel,
    reserved_problem,
)
from mlrecipes.core.manifest._frozen import FrozenMap
from mlrecipes.core.manifest._yaml import BROKEN, Broken, Tagged, YMap, YNode, YSeq
from mlrecipes.core.manifest.mlflow_names import HINT, logged_param_name, mlflow_name_problem
from mlrecipes.core.manifest.model import (
    EnvRef,
    Location,
    OutRef,
    ParamRef,
    PathRef,
    SecretRef,
    Value,
)

_PLACE_HINTS = {
    "!out": "an output of another step is an input: put it in `deps`",
    "!path": "a file is an input or an output: put it in `deps` or `outs`",
    "!param": "a global parameter cannot refer to another one: write its value",
    "!secret": "!secret marks a parameter value: use it under `params`",
}


def path_ref(ctx: Context, tag: Tagged, key_path: str) -> PathRef | None:
    """``!path root/rel``: a root name, then a relative path that stays inside it."""
    root, _, rel = tag.text.partition("/")
    if not tag.text.strip():
        ctx.report(tag.loc, "!path needs a value", key_path, "write !path ROOT/relative/path")
        return None
    if normalize_rel(tag.text)[1] == "must be a relative path":
        ctx.report(
            tag.loc,
            f"!path {tag.text!r} must be relative to a root of `paths`",
            key_path,
            "absolute paths are not allowed: declare a root in `paths` and write !path ROOT/rel",
        )
        return None
    if why := name_problem(root):
        ctx.report(tag.loc, f"!path root {why}", key_path)
        return None
    norm, why = normalize_rel(rel)
    if why:
        ctx.report(tag.loc, f"!path {tag.text!r} {why}", key_path, f"stay inside root {root!r}")
        return None
    if why := reserved_problem(norm):
        ctx.report(tag.loc, f"!path {tag.text!r} {why}", key_path, "rename the file or folder")
        return None
    return PathRef(root, norm, tag.loc)


def out_ref(ctx: Context, tag: Tagged, key_path: str) -> OutRef | None:
    """``!out step.output``."""
    step, dot, name = tag.text.partition(".")
    if not dot or name_problem(step) or kwarg_problem(name):
        ctx.report(
            tag.loc,
            f"malformed !out {tag.text!r}",
            key_path,
            "write !out STEP.OUTPUT, naming a step and one of its outs",
        )
        return None
    return OutRef(step, name, tag.loc)


def param_ref(ctx: Context, tag: Tagged, key_path: str) -> ParamRef | None:
    if why := name_problem(tag.text):
        ctx.report(tag.loc, f"malformed !param: {why}", key_path, "write !param NAME")
        return None
    return ParamRef(tag.text, tag.loc)


def env_ref(ctx: Context, tag: Tagged, key_path: str) -> EnvRef | None:
    if why := env_problem(tag.text):
        hint = 'write !env NAME, !env NAME:default or !env "text ${NAME} text"'
        ctx.report(tag.loc, f"malformed !env: {why}", key_path, hint)
        return None
    return EnvRef(tag.text, tag.loc)


def text_or_env(ctx: Context, value: YNode, loc: Location, key_path: str) -> str | EnvRef | None:
    """A plain string or an ``!env`` (URLs, tracking URIs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Tagged) and value.tag == "!env":
        return env_ref(ctx, value, key_path)
    if not isinstance(value, Broken):
        ctx.report(loc, "expected text or !env", key_path)
    return None


def param_value(
    ctx: Context, value: YNode, loc: Location, key_path: str, *, global_: bool = False
) -> Value | Broken:
    """A parameter: scalars, lists (as tuples), mappings, ``!param`` and ``!env``."""
    if not ctx.spend(loc, key_path):
        return BROKEN
    if isinstance(value, Tagged):
        return _tagged_param(ctx, value, key_path, global_=global_)
    if isinstance(value, YSeq):
        items = [
            param_value(ctx, item, item_loc, f"{key_path}[{index}]", global_=global_)
            for index, (item, item_loc) in enumerate(value.items)
        ]
        good = [item for item in items if not isinstance(item, Broken)]
        return tuple(good) if len(good) == len(items) else BROKEN
    if isinstance(value, YMap):
        for key, entry in value.entries.items():
            check_logged_name(ctx, entry.key_loc, f"{key_path}.{key}")
        pairs = {
            key: param_value(
                ctx, entry.value, entry.value_loc, f"{key_path}.{key}", global_=global_
            )
            for key, entry in value.entries.items()
        }
        fine = {key: item for key, item in pairs.items() if not isinstance(item, Broken)}
        return FrozenMap(fine) if len(fine) == len(pairs) else BROKEN
    return value


def check_logged_name(ctx: Context, loc: Location, key_path: str) -> None:
    """Report a param name MLflow would refuse once the run logs it."""
    name = logged_param_name(key_path)
    if name is not None and (why := mlflow_name_problem(name)):
        ctx.report(loc, f"param name {name[:60]!r} {why}", key_path, HINT)


def _tagged_param(ctx: Context, tag: Tagged, key_path: str, *, global_: bool) -> Value | Broken:
    if tag.tag == "!env":
        return env_ref(ctx, tag, key_path) or BROKEN
    if tag.tag == "!secret":
        return SecretRef(tag.text, tag.loc)
    if tag.tag == "!param" and not global_:
        return param_ref(ctx, tag, key_path) or BROKEN
    where = "global params" if global_ else "params"
    ctx.report(tag.loc, f"{tag.tag} is not allowed in {where}", key_path, _PLACE_HINTS[tag.tag])
    return BROKEN
