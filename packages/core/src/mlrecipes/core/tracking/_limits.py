"""Turning step params, tags and metrics into what MLflow accepts.

The numbers are MLflow's (``mlflow/utils/validation.py``, 3.x): a longer value is
rejected by the store, so it is clipped here with a visible marker instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Any

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100
# A batch holds at most 1000 entities in all; 100 params + 100 tags leave 800.
MAX_METRICS_PER_BATCH = 800
TRUNCATED = "...[truncated]"


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings become ``a.b`` keys; every value becomes a string.

    Strings stay as they are; numbers, booleans, None and lists are JSON
    (``0.1``, ``true``, ``null``, ``[1, 2]``) so that they read like the manifest.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, name + "."))
        else:
            flat[name] = stringify(value)
    return flat


def stringify(value: Any) -> str:
    """One param value as MLflow shows it."""
    if isinstance(value, str):
        return value
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, bool | int | float | list | tuple | Mapping):
        return json.dumps(value, default=str)
    return str(value)


def clip_key(key: str) -> str:
    """A key MLflow accepts: long keys keep their start plus a hash of the whole key."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{key[: MAX_KEY_LENGTH - 9]}-{digest}"


def clip_value(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, marked when it was cut."""
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATED)] + TRUNCATED


def clip_params(params: Mapping[str, str]) -> dict[str, str]:
    return {clip_key(k): clip_value(v, MAX_PARAM_VALUE_LENGTH) for k, v in params.items()}


def clip_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {clip_key(k): clip_value(str(v), MAX_TAG_VALUE_LENGTH) for k, v in tags.items()}


def batches(
    metrics: Mapping[str, float], params: Mapping[str, str], tags: Mapping[str, str]
) -> Iterator[tuple[list[tuple[str, float]], list[tuple[str, str]], list[tuple[str, str]]]]:
    """Split one logging request into ``log_batch`` calls within MLflow's limits."""
    m, p, t = list(metrics.items()), list(params.items()), list(tags.items())
    step_pt, step_m = MAX_PARAMS_TAGS_PER_BATCH, MAX_METRICS_PER_BATCH
    i = 0
    while i * step_pt < max(len(p), len(t)) or i * step_m < len(m):
        yield (
            m[i * step_m : (i + 1) * step_m],
            p[i * step_pt : (i + 1) * step_pt],
            t[i * step_pt : (i + 1) * step_pt],
        )
        i += 1


_BAD_METRIC_CHARS = re.compile(r"[^/\w.\- :]")


def sanitize_metric_key(name: str) -> str:
    """A metric name MLflow accepts: refused characters become ``_``, paths are normalized.

    MLflow allows letters, digits, ``_ - . / :`` and spaces, refuses names that
    are not their own normalized path (``a//b``, ``./x``, ``/x``), and caps length.
    """
    clean = _BAD_METRIC_CHARS.sub("_", name)
    parts = [part for part in clean.split("/") if part not in ("", ".", "..")]
    clean = "/".join(parts) or "_"
    return clip_key(clean)


def sanitize_metrics(metrics: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """``(metrics MLflow accepts, {original name: logged name})`` for the renamed ones."""
    clean: dict[str, float] = {}
    renamed: dict[str, str] = {}
    for name, value in metrics.items():
        key = sanitize_metric_key(name)
        if key != name:
            renamed[name] = key
        clean[key] = value
    return clean, renamed
