"""The machine's Python interpreter, and whether it satisfies a repo's request.

uv may not download interpreters here (``UV_PYTHON_DOWNLOADS=never``), so every
environment is built on the base interpreter of the running Python.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from mlrecipes.core.envs.spec import PythonRequest
from mlrecipes.core.errors import EnvironmentBuildError, PythonNotAvailable


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter: its executable and its full version (``3.11.7``)."""

    path: Path
    version: str


def base_interpreter() -> Interpreter:
    """The interpreter the running Python was made from.

    Inside a virtualenv ``sys.executable`` is the venv's own link; building a new
    venv on top of it would chain venvs, so use the base one.
    """
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Interpreter(Path(base), platform.python_version())


def check_python(repo: str, request: PythonRequest | None, interpreter: Interpreter) -> None:
    """Raise :class:`PythonNotAvailable` unless ``interpreter`` satisfies ``request``."""
    if request is None or _satisfies(repo, request, interpreter.version):
        return
    raise PythonNotAvailable(
        repo=repo,
        requested=request.value,
        available=interpreter.version,
        source=request.source,
    )


def _satisfies(repo: str, request: PythonRequest, version: str) -> bool:
    text = request.value.strip()
    # `.python-version` may name an implementation: "cpython-3.11", "cpython@3.11".
    for prefix in ("cpython-", "cpython@", "python"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if text[:1].isdigit():
        # A bare version ("3.11") asks for that release line, as uv reads it.
        try:
            wanted = Version(text).release
        except InvalidVersion:
            return _bad_request(repo, request)
        return Version(version).release[: len(wanted)] == wanted
    try:
        return SpecifierSet(text).contains(version, prereleases=True)
    except InvalidSpecifier:
        return _bad_request(repo, request)


def _bad_request(repo: str, request: PythonRequest) -> bool:
    raise EnvironmentBuildError(
        f"repo {repo!r}: cannot read the Python request {request.value!r} ({request.source})",
        repo=repo,
        hint="write a version such as 3.11 or a specifier such as >=3.10",
    )
