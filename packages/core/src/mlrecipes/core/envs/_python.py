"""The machine's Python interpreter, and whether it satisfies a repo's request.

uv may not download interpreters here (``UV_PYTHON_DOWNLOADS=never``), so every
environment is built on the base interpreter of the running Python.
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.envs.spec import PythonRequest
from mlrecipes.core.errors import EnvironmentBuildError, PythonNotAvailable

_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)*")
_CLAUSE = re.compile(r"(>=|<)\s*([0-9]+(?:\.[0-9]+)*)")


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
    quick = _plain_satisfies(text, version)
    if quick is not None:
        return quick
    # Imported here: the cases above (nearly every repo) do without packaging.
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

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


def _plain_satisfies(text: str, version: str) -> bool | None:
    """The answer for plain numbers ("3.11", ">=3.10", ">=3.10,<3.13") and a final
    release; None for anything else, which packaging decides."""
    if not _PLAIN.fullmatch(version):
        return None
    have = _numbers(version)
    if _PLAIN.fullmatch(text):
        wanted = _numbers(text)
        return have[: len(wanted)] == wanted
    clauses = [clause.strip() for clause in text.split(",")]
    parsed = [_CLAUSE.fullmatch(clause) for clause in clauses]
    if not all(parsed):
        return None
    for match in parsed:
        assert match is not None  # noqa: S101 - checked just above
        bound = _numbers(match[2])
        width = max(len(bound), len(have))
        # Release numbers compare padded with zeros, as in packaging (3.10 == 3.10.0).
        left = have + (0,) * (width - len(have))
        right = bound + (0,) * (width - len(bound))
        if (left < right) if match[1] == ">=" else (left >= right):
            return False
    return True


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _bad_request(repo: str, request: PythonRequest) -> bool:
    raise EnvironmentBuildError(
        f"repo {repo!r}: cannot read the Python request {request.value!r} ({request.source})",
        repo=repo,
        hint="write a version such as 3.11 or a specifier such as >=3.10",
    )
