"""What a repo's environment is made of: the install mode and the Python it asks for.

Everything here only reads files of the project folder (no uv call), so it is
cheap enough to run on every ``sync`` and ``status``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlrecipes.core.errors import EnvironmentBuildError

InstallMode = Literal["uv-lock", "pyproject", "requirements", "bare"]


@dataclass(frozen=True)
class GitRef:
    """A dependency on a git branch or tag (``pkg @ git+URL@main``): it moves."""

    name: str
    url: str
    """The URL after ``git+``, without the ``@ref``."""
    ref: str
    """The branch or tag; ``HEAD`` when none is given."""

    @property
    def key(self) -> str:
        """How the lock names it: ``URL@ref``."""
        return f"{self.url}@{self.ref}"


@dataclass(frozen=True)
class GitPin:
    """A :class:`GitRef` resolved to a commit: what the environment installs."""

    ref: GitRef
    commit: str


@dataclass(frozen=True)
class UsedRepo:
    """A repo of the workspace installed into another repo's environment (``uses:``)."""

    repo: str
    project_dir: Path
    """Its locked checkout (or subdir): installed from here, so the workspace pin wins."""
    commit: str = ""
    """Its locked commit, for messages only."""


@dataclass(frozen=True)
class EnvSpec:
    """The environment a repo needs, as the manifest and its checkout describe it."""

    repo: str
    """Repo name, used in messages."""
    project_dir: Path
    """Checkout root, or its ``subdir``: the folder where the package lives."""
    python: str | None = None
    """The Python version asked in the manifest (``python:``), e.g. ``"3.11"``."""
    uses: tuple[UsedRepo, ...] = ()
    """Repos whose code this one imports, transitively, in install order."""
    git_pins: tuple[GitPin, ...] = ()
    """Moving git references of the repo's own dependencies, resolved to commits."""


@dataclass(frozen=True)
class Detected:
    """How a project folder is installed, found by :func:`detect`."""

    mode: InstallMode
    project_dir: Path
    """Resolved project folder."""
    pyproject: dict[str, Any] | None
    """The parsed ``pyproject.toml`` of the project, if any."""
    lock_root: Path | None = None
    """The folder holding ``uv.lock`` (mode ``uv-lock``): project_dir or a workspace root."""
    root_pyproject: dict[str, Any] | None = None
    """The parsed ``pyproject.toml`` of ``lock_root``."""
    package: str | None = None
    """Name passed to ``uv sync --package`` when the project is a workspace member."""

    @property
    def dist_name(self) -> str | None:
        """The distribution name the project declares (``[project].name``), if any."""
        project = (self.pyproject or {}).get("project")
        name = project.get("name") if isinstance(project, dict) else None
        return name if isinstance(name, str) else None


@dataclass(frozen=True)
class PythonRequest:
    """A requested Python version and the place it came from (for messages)."""

    value: str
    source: str


def read_pyproject(path: Path, *, repo: str) -> dict[str, Any] | None:
    """Parse ``path`` if it exists; a malformed file is a build error of ``repo``."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise EnvironmentBuildError(
            f"repo {repo!r}: cannot parse {path}: {exc}",
            repo=repo,
            hint="fix the TOML syntax of that file in the repo",
        ) from exc


def detect(spec: EnvSpec) -> Detected:
    """Find the install mode of ``spec.project_dir``: uv-lock, pyproject, requirements or bare."""
    project_dir = spec.project_dir.resolve()
    if not project_dir.is_dir():
        raise EnvironmentBuildError(
            f"repo {spec.repo!r}: its project folder {project_dir} does not exist",
            repo=spec.repo,
            hint="check out the repo first (`mlrecipes workspace sync`), and check its `subdir`",
        )
    pyproject = read_pyproject(project_dir / "pyproject.toml", repo=spec.repo)
    if pyproject is not None:
        if (project_dir / "uv.lock").is_file():
            return Detected("uv-lock", project_dir, pyproject, project_dir, pyproject)
        found = _workspace_root(project_dir, repo=spec.repo)
        if found is None:
            return Detected("pyproject", project_dir, pyproject)
        root, root_pyproject = found
        name = Detected("pyproject", project_dir, pyproject).dist_name
        return Detected("uv-lock", project_dir, pyproject, root, root_pyproject, package=name)
    if (project_dir / "requirements.txt").is_file():
        return Detected("requirements", project_dir, None)
    return Detected("bare", project_dir, None)


def _workspace_root(project_dir: Path, *, repo: str) -> tuple[Path, dict[str, Any]] | None:
    """The uv workspace root above ``project_dir`` whose lock covers it, if any.

    Walks up to the checkout root (the folder holding ``.git``), never beyond:
    a workspace of an enclosing repo is not this repo's business.
    """
    here = project_dir
    while not (here / ".git").exists() and here.parent != here:
        here = here.parent
        data = read_pyproject(here / "pyproject.toml", repo=repo)
        workspace = _table(_table(_table(data, "tool"), "uv"), "workspace")
        if data is None or not workspace or not (here / "uv.lock").is_file():
            continue
        return (here, data) if _is_member(here, workspace, project_dir) else None
    return None


def _is_member(root: Path, workspace: dict[str, Any], project_dir: Path) -> bool:
    """Whether ``project_dir`` matches the workspace's ``members`` and not its ``exclude``."""

    def matches(key: str) -> bool:
        patterns = workspace.get(key, [])
        return any(p.resolve() == project_dir for pat in patterns for p in root.glob(pat))

    return matches("members") and not matches("exclude")


def _table(data: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    value = (data or {}).get(key)
    return value if isinstance(value, dict) else None


def python_request(spec: EnvSpec, detected: Detected) -> PythonRequest | None:
    """The Python the repo asks for: the manifest wins, then ``.python-version``,
    then ``requires-python`` (the same order of precedence uv uses)."""
    if spec.python:
        return PythonRequest(spec.python, f"workspace.yaml `python:` of repo {spec.repo!r}")
    folders = [detected.project_dir]
    if detected.lock_root is not None and detected.lock_root != detected.project_dir:
        folders.append(detected.lock_root)
    for folder in folders:
        version = _read_python_version(folder / ".python-version")
        if version:
            return PythonRequest(version, str(folder / ".python-version"))
    requires = _table(detected.pyproject, "project") or {}
    value = requires.get("requires-python")
    if isinstance(value, str) and value.strip():
        where = detected.project_dir / "pyproject.toml"
        return PythonRequest(value.strip(), f"requires-python in {where}")
    return None


def _read_python_version(path: Path) -> str | None:
    """The first request in a ``.python-version`` file (comments and blanks skipped)."""
    try:
        lines = path.read_text().splitlines()
    except (FileNotFoundError, IsADirectoryError):
        return None
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None
