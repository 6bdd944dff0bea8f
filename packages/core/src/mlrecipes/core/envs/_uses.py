"""Installing the repos a repo ``uses`` into its environment, at their locked checkouts.

A used repo with packaging metadata (``pyproject.toml`` or ``setup.py``) is
installed as an editable package, so its own dependencies come with it; one
without is put on ``sys.path`` by a ``.pth`` file (and its ``requirements.txt``,
if any, installed), so repos that were never packaged work too. Both point at
the checkout: the code that runs is the locked commit, and the environment's
identity (:mod:`mlrecipes.core.envs.installed`) sees its tree.

The workspace pin wins: the repo's own install is told (uv's ``--overrides``)
to take a used repo's distribution from its checkout, so an own pin of it
(another git commit, a URL that cannot be built, an index version) is never
tried, and a note names both. A distribution of that name that came in
otherwise (a dependency's dependency) is replaced, with a note too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlrecipes.core.envs._uv import run_uv
from mlrecipes.core.envs.installed import Installed, normalize, read_installed, site_packages
from mlrecipes.core.envs.spec import UsedRepo, read_pyproject
from mlrecipes.git_sources.urls import redact_text

OutputFn = Callable[[str], None] | None
USES_PTH = "_mlrecipes_uses.pth"


def is_packaged(folder: Path) -> bool:
    """Whether ``folder`` can be installed as a package: a ``setup.py``, or a
    ``pyproject.toml`` that declares a project or a build system (one that only
    configures tools, such as ruff, does not make a package)."""
    if (folder / "setup.py").is_file():
        return True
    data = read_pyproject(folder / "pyproject.toml", repo=folder.name)
    return data is not None and ("project" in data or "build-system" in data)


def dist_name(used: UsedRepo) -> str:
    """The distribution name a used repo installs as: ``[project].name``, else the repo name."""
    data = read_pyproject(used.project_dir / "pyproject.toml", repo=used.repo) or {}
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return normalize(name if isinstance(name, str) else used.repo)


def uses_inputs(uses: tuple[UsedRepo, ...]) -> list[dict[str, Any]]:
    """What decides how the used repos get installed (part of the environment key).

    Their code is not: it is installed from the checkout in place, and the
    environment's identity covers its tree.
    """
    return [
        {
            "repo": u.repo,
            "project_dir": str(u.project_dir.resolve()),
            "packaged": is_packaged(u.project_dir),
            "files": {
                name: _digest(u.project_dir / name)
                for name in ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt")
            },
        }
        for u in uses
    ]


def workspace_overrides(uses: tuple[UsedRepo, ...]) -> tuple[str, ...]:
    """``name @ file:///checkout`` for each packaged used repo: the overrides of the
    repo's own install, so the workspace pin wins before an own pin is tried."""
    return tuple(
        f"{dist_name(u)} @ {u.project_dir.resolve().as_uri()}"
        for u in uses
        if is_packaged(u.project_dir)
    )


def used_names(uses: tuple[UsedRepo, ...]) -> set[str]:
    """The distribution names the used repos install as."""
    return {dist_name(u) for u in uses}


def install_uses(
    repo: str, uses: tuple[UsedRepo, ...], venv: Path, python: str, env: dict[str, str],
    out: OutputFn, declared: Mapping[str, str] | None = None,
) -> list[str]:  # fmt: skip
    """Install ``uses`` into ``venv``; returns the notes on replaced pins (``declared``:
    the repo's own requirement lines by distribution, overridden before install)."""
    if not uses:
        return []
    before = {i.name: i for i in read_installed(venv) if i.kind != "pth"}
    own = declared or {}
    notes = [_declared_note(repo, u, own[dist_name(u)]) for u in uses if dist_name(u) in own]
    notes += [
        _note(repo, u, before[dist_name(u)])
        for u in uses
        if dist_name(u) not in own and dist_name(u) in before and _differs(before[dist_name(u)], u)
    ]
    packaged = [u for u in uses if is_packaged(u.project_dir)]
    plain = [u for u in uses if not is_packaged(u.project_dir)]
    clash = [dist_name(u) for u in plain if dist_name(u) in before]
    if clash:
        # A distribution of the same name would shadow the folder on sys.path.
        run_uv(["pip", "uninstall", "--python", python, *clash], env=env, on_output=out)
    args = ["pip", "install", "--python", python]
    for u in packaged:
        args += ["-e", str(u.project_dir)]
    for u in plain:
        if (u.project_dir / "requirements.txt").is_file():
            args += ["-r", str(u.project_dir / "requirements.txt")]
    if len(args) > 4:
        run_uv(args, env=env, on_output=out)
    if plain:
        site = site_packages(venv) or venv
        (site / USES_PTH).write_text("".join(f"{u.project_dir}\n" for u in plain))
    return notes


def _differs(installed: Installed, used: UsedRepo) -> bool:
    """Whether the repo's own pin names other code than the workspace's checkout."""
    if installed.kind == "git":
        return installed.commit != used.commit
    if installed.path is not None:
        return installed.path.resolve() != used.project_dir.resolve()
    return True


def _note(repo: str, used: UsedRepo, own: Installed) -> str:
    if own.kind == "git":
        theirs = f"{own.name} at {(own.commit or '?')[:12]} ({own.url})"
    elif own.kind == "path":
        theirs = f"{own.name} from {own.path}"
    else:
        theirs = f"{own.name}=={own.version} from a package index"
    return (
        f"repo {repo!r}: its own dependencies pin {theirs}; the workspace pin wins: "
        f"repo {used.repo!r} at {used.commit[:12] or 'its checkout'} is installed instead"
    )


def _declared_note(repo: str, used: UsedRepo, line: str) -> str:
    shown = redact_text(line.strip())
    return (
        f"repo {repo!r}: its own dependencies pin `{shown}`; the workspace pin wins: "
        f"repo {used.repo!r} at {used.commit[:12] or 'its checkout'} is installed instead"
    )


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None
