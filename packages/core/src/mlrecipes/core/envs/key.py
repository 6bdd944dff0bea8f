"""The identity of an environment: a hash of everything that determines its contents.

The key names the folder ``envs_dir/<key>``; two repos whose keys are equal share
one environment. It is computed from files only (no uv call), so a re-sync after
a commit that changed no dependency finds the ready environment in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlrecipes.core.envs._python import Interpreter, base_interpreter
from mlrecipes.core.envs._uses import uses_inputs
from mlrecipes.core.envs.spec import Detected, EnvSpec, detect

# Bump when the build recipe changes so that old environments are not reused.
KEY_VERSION = 1
KEY_LENGTH = 24

# What in a pyproject.toml decides what gets installed. Descriptions, versions,
# linters' settings and the like are left out: changing them rebuilds nothing.
_PROJECT_KEYS = (
    "name",
    "dependencies",
    "optional-dependencies",
    "requires-python",
    "dynamic",
    "scripts",
    "gui-scripts",
    "entry-points",
)
_TOOL_KEYS = ("uv", "hatch", "setuptools", "poetry", "pdm", "flit", "maturin", "scikit-build")
# Files that feed dependencies when the pyproject declares them `dynamic`.
_DYNAMIC_FILES = ("setup.py", "setup.cfg", "requirements.txt")


def environment_key(spec: EnvSpec) -> str:
    """The identity hash of the environment ``spec`` needs (cheap: reads files, no uv call)."""
    return key_for(detect(spec), base_interpreter(), spec)


def key_for(detected: Detected, interpreter: Interpreter, spec: EnvSpec | None = None) -> str:
    """The key of an already detected project built on ``interpreter``."""
    identity: dict[str, Any] = {
        "key_version": KEY_VERSION,
        "python": {"path": str(interpreter.path), "version": interpreter.version},
        "mode": detected.mode,
        # Editable installs and `.pth` files point at the project folder.
        "project_dir": str(detected.project_dir),
        "inputs": _inputs(detected),
    }
    if detected.lock_root is not None:
        identity["lock_root"] = str(detected.lock_root)
        identity["package"] = detected.package
    # Only when present, so that environments without them keep their keys.
    if spec is not None and spec.uses:
        identity["uses"] = uses_inputs(spec.uses)
    if spec is not None and spec.git_pins:
        identity["git_pins"] = {p.ref.key: p.commit for p in spec.git_pins}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:KEY_LENGTH]


def _inputs(detected: Detected) -> dict[str, Any]:
    folder = detected.project_dir
    if detected.mode == "uv-lock":
        root = detected.lock_root or folder
        # With --frozen the lock alone decides the third-party packages; the
        # pyprojects decide how the project itself (and the workspace) is built.
        return {
            "uv.lock": _file_digest(root / "uv.lock"),
            "root": _dependency_content(detected.root_pyproject, root),
            "project": _dependency_content(detected.pyproject, folder),
        }
    if detected.mode == "pyproject":
        return {"project": _dependency_content(detected.pyproject, folder)}
    if detected.mode == "requirements":
        return {"requirements.txt": _file_digest(folder / "requirements.txt")}
    return {}


def _dependency_content(data: dict[str, Any] | None, folder: Path) -> dict[str, Any]:
    """The parts of a parsed pyproject.toml that decide what gets installed."""
    data = data or {}
    project = _table(data, "project")
    tool = _table(data, "tool")
    content: dict[str, Any] = {
        "project": {k: project[k] for k in _PROJECT_KEYS if k in project},
        "build-system": data.get("build-system"),
        "tool": {k: tool[k] for k in _TOOL_KEYS if k in tool},
    }
    if project.get("dynamic"):
        content["files"] = {name: _file_digest(folder / name) for name in _DYNAMIC_FILES}
    return content


def _file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, or None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}
