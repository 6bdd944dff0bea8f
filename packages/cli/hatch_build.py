"""Build hook: record the commit a wheel or sdist is built from.

Writes ``mlrecipes/cli/_build_info.py`` (``COMMIT``, ``DIRTY``) into the
artifact, never into the source tree, so a checkout (an editable install) has
no such file and ``mlrecipes --version`` asks git there instead. A wheel built
from an sdist (what ``uv build`` does) finds no git repository but the file the
sdist carries, and keeps it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_IN_TREE = Path("src/mlrecipes/cli/_build_info.py")


def _git(root: str, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", root, *args], capture_output=True, text=True, check=False
        )
    except OSError:  # no git on this machine
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


class BuildInfoHook(BuildHookInterface):
    """Force-includes a generated ``_build_info.py``; see the module docstring."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable" or (Path(self.root) / _IN_TREE).is_file():
            return  # a checkout asks git at run time; an sdist already carries the file
        commit = _git(self.root, "rev-parse", "HEAD") or "unknown"
        status = _git(self.root, "status", "--porcelain", "--untracked-files=no")
        self._tmp = tempfile.mkdtemp(prefix="mlrecipes-build-info-")
        generated = Path(self._tmp) / "_build_info.py"
        generated.write_text(
            '"""Written by packages/cli/hatch_build.py when this artifact was built."""\n\n'
            f"COMMIT = {commit!r}\nDIRTY = {bool(status)!r}\n",
            encoding="utf-8",
        )
        inside = "mlrecipes/cli/_build_info.py" if self.target_name == "wheel" else str(_IN_TREE)
        build_data["force_include"][str(generated)] = inside

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
