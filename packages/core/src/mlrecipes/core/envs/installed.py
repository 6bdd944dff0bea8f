"""What is installed in an environment, and where each distribution came from.

Read from the files pip and uv leave in ``site-packages`` (PEP 376 / PEP 610):
a ``<name>-<version>.dist-info`` folder per distribution, its ``direct_url.json``
when it was not installed from a package index (the git commit of a git
install; the path of a path or editable install), and ``.pth`` files that put
folders on ``sys.path``. No interpreter is started and no uv is called: reading
a 200-package environment costs one directory listing and a few small files.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from mlrecipes.git_sources import redact_url

SourceKind = Literal["index", "git", "path", "url", "pth"]


@dataclass(frozen=True)
class Installed:
    """One installed distribution (or one ``.pth`` folder) and its source."""

    name: str
    """Normalized distribution name (``my-pkg``); for a ``.pth`` folder, the file name."""
    version: str
    kind: SourceKind
    url: str | None = None
    """Where it came from, credentials removed (git and url kinds)."""
    commit: str | None = None
    """The git commit a git install was built from."""
    path: Path | None = None
    """The folder of a path or editable install, or of a ``.pth`` entry."""
    editable: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version, "source": self.kind}
        for key in ("url", "commit"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.path is not None:
            data["path"] = str(self.path)
        if self.editable:
            data["editable"] = True
        return data


def site_packages(venv: Path) -> Path | None:
    """The ``site-packages`` folder of the virtualenv at ``venv``."""
    found = next(venv.glob("lib/python*/site-packages"), None)
    if found is None and (venv / "Lib" / "site-packages").is_dir():
        return venv / "Lib" / "site-packages"
    return found


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_installed(venv: Path) -> tuple[Installed, ...]:
    """Every distribution and ``.pth`` folder of ``venv``, sorted by name then path."""
    site = site_packages(venv)
    if site is None:
        return ()
    found: list[Installed] = []
    base = str(site)
    # Plain strings and os calls: pathlib costs more than the reads themselves here.
    for name in sorted(os.listdir(base)):  # noqa: PTH208 - see above
        if name.endswith(".dist-info"):
            found.append(_dist(base, name))
        elif name.endswith(".pth"):
            found.extend(_pth(site / name))
    return tuple(sorted(found, key=lambda i: (i.name, str(i.path or ""))))


def _dist(site: str, folder: str) -> Installed:
    name, _, version = folder.removesuffix(".dist-info").partition("-")
    try:
        file = os.path.join(site, folder, "direct_url.json")  # noqa: PTH118 - speed
        with open(file, encoding="utf-8") as fh:  # noqa: PTH123 - speed
            data = json.load(fh)
    except (OSError, ValueError):
        return Installed(normalize(name), version, "index")
    return _from_direct_url(normalize(name), version, data if isinstance(data, dict) else {})


def _from_direct_url(name: str, version: str, data: dict[str, Any]) -> Installed:
    url = str(data.get("url", ""))
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id")
        return Installed(name, version, "git", redact_url(url), str(commit) if commit else None)
    if url.startswith("file:"):
        dir_info = data.get("dir_info")
        editable = isinstance(dir_info, dict) and bool(dir_info.get("editable"))
        path = Path(unquote(urlsplit(url).path))
        return Installed(name, version, "path", path=path, editable=editable)
    return Installed(name, version, "url", redact_url(url))


def _pth(file: Path) -> list[Installed]:
    """Folders a ``.pth`` file adds to ``sys.path`` (``import`` lines run code: skipped)."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "import ", "import\t")):
            continue
        path = Path(line) if Path(line).is_absolute() else file.parent / line
        found.append(Installed(file.name, "", "pth", path=path))
    return found
