"""Git dependencies on moving references (``pkg @ git+URL@main``) in a repo's own pins.

uv would resolve such a reference at install time, so the same files could build
different environments. Sync resolves each to a commit (recorded in the lock) and
the install is told to take exactly that commit (``--overrides``); the commits
are part of the environment's key, so moving them builds a new environment.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlrecipes.core.envs.spec import Detected, GitPin, GitRef

# `name @ git+URL[@REF][#fragment]`, as in requirements files and PEP 508 strings.
_GIT_REQ = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*@\s*git\+(?P<url>[^\s#;]+)"
)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
OVERRIDES_FILE = "git-pins.txt"


def moving_refs(detected: Detected) -> list[GitRef]:
    """The git dependencies of the project that name a branch or tag, not a commit.

    Read from ``requirements.txt`` (requirements mode) or ``[project].dependencies``
    (pyproject mode); a uv.lock already pins its git dependencies to commits.
    """
    found: dict[str, GitRef] = {}
    for line in _own_lines(detected):
        ref = parse_git_requirement(line)
        if ref is not None:
            found.setdefault(ref.key, ref)
    return [found[k] for k in sorted(found)]


def _own_lines(detected: Detected) -> list[str]:
    """The requirement lines of ``requirements.txt`` or ``[project].dependencies``."""
    if detected.mode == "requirements":
        return _requirement_lines(detected.project_dir / "requirements.txt")
    if detected.mode == "pyproject":
        project = (detected.pyproject or {}).get("project")
        deps = project.get("dependencies") if isinstance(project, dict) else None
        return [d for d in deps or [] if isinstance(d, str)]
    return []


def declared_requirements(detected: Detected) -> dict[str, str]:
    """Normalized distribution name -> the project's own requirement line naming it
    (options such as ``-e PATH`` or ``-r FILE`` name none)."""
    found: dict[str, str] = {}
    for line in _own_lines(detected):
        match = _NAME.match(line)
        if match is not None:
            found.setdefault(re.sub(r"[-_.]+", "-", match[1]).lower(), line)
    return found


def parse_git_requirement(line: str) -> GitRef | None:
    """The moving reference of one requirement line, None for anything else."""
    match = _GIT_REQ.match(line)
    if match is None:
        return None
    url = match["url"]
    # The last `@` after the path separates the ref (`user@host` comes before it).
    head, at, ref = url.rpartition("@")
    if at and "/" not in ref and ":" not in ref:
        url = head
    else:
        ref = "HEAD"
    if _SHA.match(ref):
        return None
    return GitRef(name=match["name"], url=url, ref=ref)


def overrides_text(pins: tuple[GitPin, ...], extra: tuple[str, ...] = ()) -> str:
    """The ``--overrides`` file that makes uv install exactly the resolved commits,
    and the ``extra`` lines (the workspace's used repos, which win over any own pin)."""
    return "".join(f"{p.ref.name} @ git+{p.ref.url}@{p.commit}\n" for p in pins) + "".join(
        f"{line}\n" for line in extra
    )


def _requirement_lines(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError):
        return []
    return [line.split(" #", 1)[0].strip() for line in text.splitlines() if line.strip()]
