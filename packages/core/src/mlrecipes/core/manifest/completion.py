"""Names a shell completes from the manifest: steps, and ``-S`` keys.

Completion runs on every Tab, so it reads the manifest with a plain safe YAML
load (tags read as text) and no validation: no MLflow, git or networkx import,
no sync. A manifest that cannot be read completes nothing rather than failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest.discover import find_manifest

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TagsAsText(_Base):  # type: ignore[misc]  # a per-module loader: the tags stay local
    """A safe loader that reads ``!path x`` and the other manifest tags as plain text."""


def _as_text(loader: Any, _suffix: str, node: yaml.Node) -> Any:
    return loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None


_TagsAsText.add_multi_constructor("!", _as_text)


def _read(explicit: Path | None) -> dict[str, Any]:
    try:
        path = find_manifest(explicit)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TagsAsText)  # noqa: S506 (safe)
    except (UserError, OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def step_names(manifest: Path | None = None) -> list[str]:
    """The steps of ``manifest`` (else the nearest ``workspace.yaml``), in file order."""
    return [str(name) for name in _mapping(_read(manifest).get("steps"))]


def override_keys(manifest: Path | None = None) -> list[str]:
    """What ``-S`` can set: ``step.param`` for every step param, then every global param."""
    data = _read(manifest)
    keys = [
        f"{step}.{param}"
        for step, spec in _mapping(data.get("steps")).items()
        for param in _mapping(_mapping(spec).get("params"))
    ]
    return keys + [str(name) for name in _mapping(data.get("params"))]
