"""DVC-style ``-S KEY=VALUE`` overrides applied to a manifest.

``step.param=value`` sets a step parameter, ``name=value`` a global one, and
dotted keys reach into mappings (``train.opt.lr=0.01``). When the first part
names both a step and a global parameter, the step wins. A key must exist,
unless it starts with ``+`` (``+train.opt.momentum=0.9`` adds a key to an
existing mapping). Values are YAML scalars read with the safe loader.

An override of a secret (a ``!secret`` or ``!env`` value) stays a secret: the
new value becomes a ``!secret``, and :func:`public_overrides` shows it as
``<secret>`` wherever overrides are logged (run name, tags, ``params.json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from mlrecipes.core.errors import OverrideError
from mlrecipes.core.manifest._formats import kwarg_problem
from mlrecipes.core.manifest._frozen import FrozenMap
from mlrecipes.core.manifest._yaml import ScalarLoader
from mlrecipes.core.manifest.mlflow_names import HINT, mlflow_name_problem
from mlrecipes.core.manifest.model import EnvRef, Manifest, ParamRef, SecretRef, Value
from mlrecipes.core.suggest import did_you_mean

SECRET_MASK = "<secret>"  # noqa: S105 - the mask, not a password


def apply_overrides(manifest: Manifest, overrides: Mapping[str, str]) -> Manifest:
    """A new manifest with ``overrides`` applied.

    Raises :class:`OverrideError` for a key that names nothing (with did-you-mean).
    """
    params = _thaw(manifest.params)
    step_params = {name: _thaw(step.params) for name, step in manifest.steps.items()}
    for raw_key, raw_value in overrides.items():
        add = raw_key.startswith("+")
        key = raw_key.removeprefix("+")
        value = parse_value(key, raw_value)
        target, parts = _target(params, step_params, key)
        _set(target, parts, value, key, add=add, manifest=manifest, raw=raw_value, params=params)
    steps = {
        name: dataclasses.replace(step, params=_freeze_map(step_params[name]))
        for name, step in manifest.steps.items()
    }
    return dataclasses.replace(manifest, params=_freeze_map(params), steps=FrozenMap(steps))


def public_overrides(manifest: Manifest, overrides: Mapping[str, str]) -> dict[str, str]:
    """``overrides`` as they may be shown or logged: the value of a secret is ``<secret>``."""
    params = _thaw(manifest.params)
    step_params = {name: _thaw(step.params) for name, step in manifest.steps.items()}
    shown = {}
    for raw_key, value in overrides.items():
        target, parts = _target(params, step_params, raw_key.removeprefix("+"))
        shown[raw_key] = SECRET_MASK if _is_secret(target, parts, params) else value
    return shown


def _target(
    params: dict[str, Any], step_params: Mapping[str, dict[str, Any]], key: str
) -> tuple[dict[str, Any], list[str]]:
    """The mapping an override key starts in (a step's params or the globals) and its path."""
    head, _, rest = key.partition(".")
    if rest and head in step_params:
        return step_params[head], rest.split(".")
    return params, key.split(".")


def _is_secret(node: Any, parts: list[str], params: Mapping[str, Any]) -> bool:
    """True when the value at ``parts`` (or a mapping on the way) is a secret."""
    for part in parts:
        if _secret(node, params):
            return True
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return _secret(node, params)


def _secret(value: Any, params: Mapping[str, Any]) -> bool:
    """A ``!secret`` or ``!env`` value, or a ``!param`` naming one."""
    if isinstance(value, ParamRef):
        value = params.get(value.name)
    return isinstance(value, EnvRef | SecretRef)


def parse_value(key: str, text: str) -> Value:
    """A YAML scalar (or flow list/mapping) as a parameter value."""
    try:
        # ScalarLoader is a SafeLoader: only plain YAML, never Python objects.
        data = yaml.load(text, Loader=ScalarLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise OverrideError(
            f"cannot read the value of {key!r}: {exc}", key=key, hint="quote it as a YAML string"
        ) from None
    return _freeze(data, text)


def _set(
    target: dict[str, Any],
    parts: list[str],
    value: Value,
    key: str,
    *,
    add: bool,
    manifest: Manifest,
    raw: str,
    params: Mapping[str, Any],
) -> None:
    node = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part not in node and not (last and add):
            raise OverrideError(
                f"override {key!r} names no parameter",
                key=key,
                hint=did_you_mean(key, override_keys(manifest))
                + " (prefix the key with '+' to add a new one)",
            )
        if last:
            if part not in node:
                _check_new_key(part, key)
            elif _secret(node[part], params):  # a secret's new value stays secret
                value = SecretRef(value if isinstance(value, str) else raw.strip())
            node[part] = value
        elif isinstance(node[part], dict):
            node = node[part]
        else:
            raise OverrideError(
                f"override {key!r} reaches into {'.'.join(parts[: index + 1])!r}, "
                "which is not a mapping",
                key=key,
            )


def _check_new_key(part: str, key: str) -> None:
    """A key added with ``+`` becomes a keyword argument or an MLflow param name."""
    if why := kwarg_problem(part):
        raise OverrideError(
            f"override {key!r} adds {why}", key=key, hint="new keys are Python identifiers"
        )
    if why := mlflow_name_problem(key):
        raise OverrideError(f"override {key!r}: the name {why}", key=key, hint=HINT)


def override_keys(manifest: Manifest) -> list[str]:
    """Every key an override can name, for did-you-mean and completion."""
    keys = list(_keys(manifest.params, ""))
    for name, step in manifest.steps.items():
        keys.extend(_keys(step.params, f"{name}."))
    return sorted(keys)


def _keys(params: Mapping[str, Value], prefix: str) -> Iterator[str]:
    for name, value in params.items():
        yield prefix + name
        if isinstance(value, Mapping):
            yield from _keys(value, f"{prefix}{name}.")


def _thaw(params: Mapping[str, Value]) -> dict[str, Any]:
    return {k: _thaw(v) if isinstance(v, Mapping) else v for k, v in params.items()}


def _freeze_map(params: Mapping[str, Any]) -> FrozenMap[str, Value]:
    return FrozenMap({k: _freeze_map(v) if isinstance(v, dict) else v for k, v in params.items()})


def _freeze(data: Any, text: str) -> Value:
    if isinstance(data, list):
        return tuple(_freeze(item, text) for item in data)
    if isinstance(data, dict):
        return FrozenMap({str(k): _freeze(v, text) for k, v in data.items()})
    if data is None or isinstance(data, str | int | float | bool):
        return data
    raise OverrideError(f"unsupported value {text!r}", key=text)
