"""Turn a step's parameters into the plain JSON values its function receives.

``!param`` takes the global parameter (after overrides), ``!env`` reads the
environment now; tuples become lists and mappings dicts. The model keeps the
references, so what is persisted can stay a template.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeAlias

from mlrecipes.core._suggest import did_you_mean
from mlrecipes.core.errors import OverrideError, UnknownStepError, UserError
from mlrecipes.core.manifest._overrides import apply_overrides
from mlrecipes.core.manifest.model import EnvRef, Manifest, ParamRef, Value

JSON: TypeAlias = str | int | float | bool | list["JSON"] | dict[str, "JSON"] | None

__all__ = ["JSON", "apply_overrides", "resolve_globals", "resolve_params"]


def resolve_params(
    manifest: Manifest,
    step_name: str,
    overrides: Mapping[str, Value] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, JSON]:
    """The step's params as plain JSON values.

    ``overrides`` replace global parameters by name before ``!param`` is
    substituted (an unknown name raises :class:`OverrideError`); ``environ``
    defaults to ``os.environ``. An unset variable without a default raises
    :class:`UserError` naming the step and the variable.
    """
    step = manifest.steps.get(step_name)
    if step is None:
        raise UnknownStepError(step_name, known=sorted(manifest.steps))
    globals_ = _globals(manifest, overrides)
    env = os.environ if environ is None else environ
    return {
        name: _resolve(value, globals_, env, f"step {step_name!r}")
        for name, value in step.params.items()
    }


def resolve_globals(
    manifest: Manifest,
    overrides: Mapping[str, Value] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, JSON]:
    """The global parameters (after ``overrides``) as plain JSON values."""
    globals_ = _globals(manifest, overrides)
    env = os.environ if environ is None else environ
    return {
        name: _resolve(value, globals_, env, "the global params")
        for name, value in globals_.items()
    }


def _globals(manifest: Manifest, overrides: Mapping[str, Value] | None) -> dict[str, Value]:
    globals_ = dict(manifest.params)
    for name, value in (overrides or {}).items():
        if name not in globals_:
            raise OverrideError(
                f"unknown global parameter {name!r}", key=name, hint=did_you_mean(name, globals_)
            )
        globals_[name] = value
    return globals_


def _resolve(value: Value, globals_: Mapping[str, Value], env: Mapping[str, str], who: str) -> JSON:
    if isinstance(value, ParamRef):
        if value.name not in globals_:
            raise UserError(f"{who} uses unknown global parameter {value.name!r}")
        return _resolve(globals_[value.name], globals_, env, who)
    if isinstance(value, EnvRef):
        try:
            return value.resolve(env)
        except KeyError as exc:
            name = exc.args[0]
            raise UserError(
                f"{who} reads environment variable {name!r}, which is not set",
                hint=f"set {name}, or give a default: !env {name}:default",
            ) from None
    if isinstance(value, tuple):
        return [_resolve(item, globals_, env, who) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _resolve(v, globals_, env, who) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{who}: a {type(value).__name__} cannot be a parameter value")
