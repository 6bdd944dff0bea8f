"""Pure checks of single values: names, relative paths, revs, URLs, tag texts.

Each check returns ``None`` when the value is fine, else a short reason that
the caller turns into a located problem.
"""

from __future__ import annotations

import keyword
import posixpath
import re
from pathlib import PurePosixPath

from mlrecipes.core.manifest.model import FnRef
from mlrecipes.core.paths import STATE_DIR
from mlrecipes.git_sources import rules

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_NAME = re.compile(NAME_PATTERN)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-?[^}]*)?\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
PYTHON_PATTERN = r"^[0-9]+(\.[0-9]+){0,2}$"
_PYTHON = re.compile(PYTHON_PATTERN)
MEMORY_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*([KMGTkmgt]i?[Bb]?|[Bb])?\s*$"
_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGTkmgt])(i?)[Bb]?|[Bb])?\s*$")
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def name_problem(name: str) -> str | None:
    """A step, repo, output root or global parameter name: ``[A-Za-z_][A-Za-z0-9_-]*``."""
    if _NAME.match(name):
        return None
    return (
        f"{name!r} is not a valid name: use letters, digits, '_' and '-', not starting with a digit"
    )


def kwarg_problem(name: str) -> str | None:
    """A step's params, deps and outs are keyword arguments: Python identifiers."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return None
    return f"{name!r} is not a Python identifier (it becomes a keyword argument of the step)"


def normalize_rel(text: str) -> tuple[str, str | None]:
    """Normalize a relative POSIX path; the reason it is unsafe, if it is.

    ``..`` is allowed while it stays inside (``a/../b``); ``.`` becomes ``""``.
    """
    if _CONTROL.search(text):
        return text, "contains a control character"
    if text.startswith(("/", "~", "\\")) or _DRIVE.match(text) or PurePosixPath(text).is_absolute():
        return text, "must be a relative path"
    norm = posixpath.normpath(text) if text else "."
    if norm == ".." or norm.startswith("../"):
        return text, "escapes its folder (too many '..')"
    return ("" if norm == "." else norm), None


RESERVED_PREFIX = STATE_DIR
"""Names mlrecipes keeps for itself: its state folder, the store's completion marker
(``.mlrecipes-complete.json``), copies' and links' temporary names."""


def reserved_problem(rel: str) -> str | None:
    """A path with a part named like mlrecipes' own files (``.mlrecipes*``)."""
    if any(part.startswith(RESERVED_PREFIX) for part in rel.split("/")):
        return f"uses a name reserved by mlrecipes (starting with {RESERVED_PREFIX!r})"
    return None


def rev_problem(rev: str) -> str | None:
    """git_sources owns the rule (STYLE 18): validate and sync cannot disagree."""
    return rules.rev_problem(rev)


def url_problem(url: str) -> str | None:
    """git_sources owns the rule; for an ``!env`` URL this checks the template."""
    return rules.url_problem(url)


def python_problem(version: str) -> str | None:
    if _PYTHON.match(version):
        return None
    return f'{version!r} is not a Python version such as "3.11"'


def parse_fn(text: str) -> FnRef | None:
    """``repo:module.func`` (the module may be dotted), or None when malformed."""
    repo, sep, target = text.partition(":")
    module, dot, func = target.rpartition(".")
    if not (sep and dot and _NAME.match(repo)):
        return None
    if not all(part.isidentifier() for part in [*module.split("."), func]):
        return None
    return FnRef(repo=repo, module=module, func=func)


def env_problem(text: str) -> str | None:
    """``NAME``, ``NAME:default`` or a text with ``${NAME}`` placeholders."""
    if "${" in text:
        leftover = _PLACEHOLDER.sub("", text)
        if "${" in leftover:
            return "has a malformed ${NAME} placeholder"
        return None
    name = text.partition(":")[0]
    if _ENV_NAME.match(name):
        return None
    return f"{name!r} is not an environment variable name (or use a ${{NAME}} placeholder)"


def parse_memory(value: int | float | str) -> int | None:
    """Bytes from ``4096``, ``"4GB"`` (10^9), ``"512MiB"`` (2^20), ``"2G"``; None if malformed."""
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    match = _MEMORY.match(value)
    if not match:
        return None
    number, prefix, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** _POWERS.get((prefix or "").lower(), 0))
