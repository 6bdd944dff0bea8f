"""Turn a step's parameters into plain JSON values, in one of three views.

``!param`` takes the global parameter (after overrides), ``!env`` reads the
environment now; tuples become lists and mappings dicts. The model keeps the
references, so what is persisted can stay a template.

Secrets (every ``!env`` value, ``${NAME}`` templates included, and ``!secret``)
exist in clear only in the ``clear`` view, which goes to the step's function and
nowhere else. Everything that logs, prints or persists params (MLflow params,
``params.json``, the store's ``latest.json``, ``--dry-run`` reasons, ``step
call``) uses the ``public`` view (:func:`public_params`, ``PlannedStep.public_params``),
where a secret reads ``<from env NAME>`` or ``<secret>``. The ``code`` view
is the public one where each ``!env`` value also carries the Python expression
that reads it (``step call`` prints that, never the value). The ``fingerprint``
view adds a digest of the value to that label, so a new token still reruns the
step without the token being written anywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from typing import Literal, TypeAlias

from mlrecipes.core.errors import OverrideError, UnknownStepError, UserError
from mlrecipes.core.manifest._overrides import apply_overrides
from mlrecipes.core.manifest.model import PLACEHOLDER, EnvRef, Manifest, ParamRef, SecretRef, Value
from mlrecipes.core.suggest import did_you_mean

JSON: TypeAlias = str | int | float | bool | list["JSON"] | dict[str, "JSON"] | None
View: TypeAlias = Literal["clear", "public", "fingerprint", "code"]
_Show: TypeAlias = Callable[[EnvRef | SecretRef, str], str]

__all__ = [
    "JSON",
    "View",
    "apply_overrides",
    "is_masked",
    "mask_label",
    "public_params",
    "resolve_globals",
    "resolve_params",
    "unmask_digest",
]

# Digests of secret values are salted so the store does not hold a plain
# sha256 of a token (one lookup in a rainbow table away for short ones).
_SALT = b"mlrecipes secret v1\0"
_MASKED = re.compile(r"^(<from env [^>]*>|<secret>)( sha256:[0-9a-f]+)?$")


def mask_label(ref: EnvRef | SecretRef) -> str:
    """How a secret is shown: ``<from env NAME>`` (names joined by ``, ``) or ``<secret>``."""
    if isinstance(ref, SecretRef):
        return "<secret>"
    return f"<from env {', '.join(ref.names())}>"


def is_masked(value: object) -> bool:
    """True when a public or fingerprint view value holds a secret, at any depth."""
    if isinstance(value, str):
        return _MASKED.match(value) is not None
    if isinstance(value, list | tuple):
        return any(is_masked(item) for item in value)
    if isinstance(value, Mapping):
        return any(is_masked(item) for item in value.values())
    return False


def unmask_digest(value: object) -> object:
    """A fingerprint-view value as the public view shows it (digests dropped, at any depth)."""
    if isinstance(value, str) and (match := _MASKED.match(value)):
        return match.group(1)
    if isinstance(value, list | tuple):
        return [unmask_digest(item) for item in value]
    if isinstance(value, Mapping):
        return {key: unmask_digest(item) for key, item in value.items()}
    return value


def _clear(ref: EnvRef | SecretRef, text: str) -> str:
    return text


def _public(ref: EnvRef | SecretRef, text: str) -> str:
    return mask_label(ref)


def _hashed(ref: EnvRef | SecretRef, text: str) -> str:
    digest = hashlib.sha256(_SALT + text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{mask_label(ref)} sha256:{digest[:32]}"


class SourceCode(str):
    """A secret in the ``code`` view: its text is the public mask, ``python_source`` the
    Python expression that reads it from the environment (``step call`` prints it)."""

    python_source: str


def _code(ref: EnvRef | SecretRef, text: str) -> str:
    shown = SourceCode(mask_label(ref))
    if isinstance(ref, SecretRef):
        return shown  # written in the manifest only: the user fills it in
    if ref.is_template:  # the text around each ${NAME} and what reads NAME, joined
        parts, end = [], 0
        for match in PLACEHOLDER.finditer(ref.template):
            text = ref.template[end : match.start()]
            parts += [repr(text), _read(match.group(1), match.group(2))]
            end = match.end()
        parts.append(repr(ref.template[end:]))
        shown.python_source = f"''.join([{', '.join(parts)}])"
    else:
        name, sep, default = ref.template.partition(":")
        shown.python_source = _read(name, default if sep else None)
    return shown


def _read(name: str, default: str | None) -> str:
    return f"os.environ[{name!r}]" if default is None else f"os.environ.get({name!r}, {default!r})"


_VIEWS: dict[str, _Show] = {
    "clear": _clear,
    "public": _public,
    "fingerprint": _hashed,
    "code": _code,  # the public view, with the Python that reads each !env value
}


def resolve_params(
    manifest: Manifest,
    step_name: str,
    overrides: Mapping[str, Value] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    view: View = "clear",
) -> dict[str, JSON]:
    """The step's params as plain JSON values (``view``: see the module doc).

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
    show = _VIEWS[view]
    return {
        name: _resolve(value, globals_, env, f"step {step_name!r}", show)
        for name, value in step.params.items()
    }


def public_params(
    manifest: Manifest,
    step_name: str,
    overrides: Mapping[str, Value] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, JSON]:
    """The step's params as they may be shown, logged or stored: secrets masked."""
    return resolve_params(manifest, step_name, overrides, environ=environ, view="public")


def resolve_globals(
    manifest: Manifest,
    overrides: Mapping[str, Value] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    view: View = "clear",
) -> dict[str, JSON]:
    """The global parameters (after ``overrides``) as plain JSON values."""
    globals_ = _globals(manifest, overrides)
    env = os.environ if environ is None else environ
    return {
        name: _resolve(value, globals_, env, "the global params", _VIEWS[view])
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


def _resolve(
    value: Value, globals_: Mapping[str, Value], env: Mapping[str, str], who: str, show: _Show
) -> JSON:
    if isinstance(value, ParamRef):
        if value.name not in globals_:
            raise UserError(f"{who} uses unknown global parameter {value.name!r}")
        return _resolve(globals_[value.name], globals_, env, who, show)
    if isinstance(value, SecretRef):
        return show(value, value.text)
    if isinstance(value, EnvRef):
        try:
            return show(value, value.resolve(env))
        except KeyError as exc:
            name = exc.args[0]
            raise UserError(
                f"{who} reads environment variable {name!r}, which is not set",
                hint=f"set {name}, or give a default: !env {name}:default",
            ) from None
    if isinstance(value, tuple):
        return [_resolve(item, globals_, env, who, show) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _resolve(v, globals_, env, who, show) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{who}: a {type(value).__name__} cannot be a parameter value")
