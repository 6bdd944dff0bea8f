"""Where the installed ``mlrecipes`` came from: its commit and how to install it again.

A wheel carries ``mlrecipes/cli/_build_info.py``, written by the build hook of
``packages/cli`` (``hatch_build.py``) from the commit it was built from. In a
checkout (an editable install) there is no such file and git is asked instead,
so the answer never goes stale after a ``git pull``. Install hints are built
from the install's own origin (PEP 610 ``direct_url.json``): a tool installed
from a git URL is told to reinstall from that URL with the extra it lacks.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPOSITORY_URL = "https://github.com/mlrecipes/mlrecipes"
"""Where the project lives; install hints fall back to it."""
DISTRIBUTION = "mlrecipes"
SUBDIRECTORY = "packages/cli"


@dataclass(frozen=True)
class BuildInfo:
    """The commit an install was built from (``unknown`` when no one could tell)."""

    version: str
    commit: str
    dirty: bool
    checkout: bool  # True: read from git in a checkout, not from the wheel

    def describe(self) -> str:
        """``0.1.0 (commit 9825874)``, ``, dirty`` and ``, checkout`` when so."""
        marks = [f"commit {self.commit[:7]}", *(["dirty"] if self.dirty else [])]
        if self.checkout:
            marks.append("checkout")
        return f"{self.version} ({', '.join(marks)})"


def build_info() -> BuildInfo:
    """The installed ``mlrecipes``'s version and commit (see the module docstring)."""
    version = _version()
    try:
        built = importlib.import_module("mlrecipes.cli._build_info")
    except ImportError:
        return _from_checkout(version)
    return BuildInfo(version, str(built.COMMIT), bool(built.DIRTY), checkout=False)


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def _from_checkout(version: str) -> BuildInfo:
    here = str(Path(__file__).resolve().parent)
    commit = _git(here, "rev-parse", "HEAD")
    status = _git(here, "status", "--porcelain", "--untracked-files=no") if commit else None
    return BuildInfo(version, commit or "unknown", bool(status), checkout=commit is not None)


def _git(folder: str, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", folder, *args], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


EXTRAS = {"tune": "optuna", "ray": "ray"}
"""The extras of the ``mlrecipes`` distribution, each with the module it brings."""


def install_command(extra: str) -> str:
    """A ``uv tool install`` command that adds ``extra`` and keeps the extras present.

    From the same git URL (and requested revision) when it was installed from
    one; from the project's repository otherwise.
    """
    present = [name for name, module in EXTRAS.items() if importlib.util.find_spec(module)]
    extras = ",".join(sorted({extra, *present}))
    origin = _direct_url()
    vcs = origin.get("vcs_info") if origin else None
    url = REPOSITORY_URL
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and origin:
        url = str(origin.get("url", REPOSITORY_URL))
        if vcs.get("requested_revision"):
            url += f"@{vcs['requested_revision']}"
    return (
        f'uv tool install --compile-bytecode --reinstall "{DISTRIBUTION}[{extras}] @ '
        f'git+{url}#subdirectory={SUBDIRECTORY}"'
    )


def _direct_url() -> dict[str, object] | None:
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        data = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None
