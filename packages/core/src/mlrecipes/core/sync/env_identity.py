"""An environment's identity: the code that is installed in it (DESIGN.md, "fingerprint").

Every installed distribution counts with its name, version and source (the git
commit of a git install, the place of a path install), and every path install
or ``.pth`` folder that lives inside a workspace checkout counts with the git
tree SHA of that folder, named by repo and folder rather than by absolute path
(so the identity is the same in every clone of the workspace). A step's
fingerprint holds this identity: a commit to a used repo or to a uv workspace
member the step imports changes it, a commit to an unrelated folder does not.

Cheap when nothing changed: one listing of ``site-packages``, a few small
files, and tree SHAs from each checkout's tree cache (``benchmarks/``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrecipes.core.envs import Environment
from mlrecipes.core.envs.installed import Installed, read_installed
from mlrecipes.core.fingerprint import hash_path
from mlrecipes.git_sources import Resolved, folder_of, folder_tree

IDENTITY_VERSION = 1


@dataclass(frozen=True)
class EnvIdentity:
    """The digest that fingerprints and the lock hold, and the package list behind it."""

    digest: str
    packages: tuple[Mapping[str, Any], ...]

    def summary(self) -> dict[str, str]:
        """One short line per distribution (``six``: ``1.16.0``, ``lib``: ``0.1 git 1a2b3c4``,
        ``shared``: ``0.1 mono@5d6e7f8``), for explaining why an environment changed."""
        lines: dict[str, str] = {}
        for p in self.packages:
            if p.get("source") == "pth":
                continue  # the folders of .pth files belong to the installs listed anyway
            text = str(p.get("version", ""))
            if "repo" in p:
                text += f" {p['repo']}@{str(p.get('tree', ''))[:7]}"
            elif p.get("commit"):
                text += f" git {str(p['commit'])[:7]}"
            elif p.get("source") in ("path", "url"):
                text += f" {p.get('path') or p.get('url')}"
            lines[str(p["name"])] = text
        return lines

    def without_checkout_code(self) -> str:
        """The digest without the trees of what a step imports from the checkouts in
        place (editable installs, ``.pth`` folders): a step's code record accounts for
        that code (:mod:`mlrecipes.core.codedeps`). Third-party packages, and path
        installs copied into the environment, count as in :attr:`digest`."""
        packages = [
            {k: v for k, v in _hashed(p).items() if k != "tree"} if _in_place(p) else _hashed(p)
            for p in self.packages
        ]
        return _digest({"version": IDENTITY_VERSION, "code": "recorded", "packages": packages})

    def to_json(self) -> str:
        """The package list as the MLflow artifact holds it."""
        body = {"identity": self.digest, "packages": [dict(p) for p in self.packages]}
        return json.dumps(body, indent=2, sort_keys=True)


def env_identity(env: Environment, sources: Mapping[str, Resolved]) -> EnvIdentity:
    """The identity of ``env`` given the checkouts its path installs may point into."""
    roots = sorted(sources.values(), key=lambda s: -len(str(s.path)))  # nested roots first
    packages = tuple(_entry(item, roots) for item in read_installed(env.path))
    value = {"version": IDENTITY_VERSION, "packages": [_hashed(p) for p in packages]}
    return EnvIdentity(_digest(value), packages)


def _digest(value: Mapping[str, Any]) -> str:
    # JSON with sorted keys is canonical for these plain str/bool values, and its
    # C encoder is 20x faster than the fingerprint encoding on 200 packages.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _in_place(entry: Mapping[str, Any]) -> bool:
    """A checkout folder the environment imports in place (not a copy of it)."""
    return "repo" in entry and (bool(entry.get("editable")) or entry.get("source") == "pth")


def _entry(item: Installed, roots: list[Resolved]) -> dict[str, Any]:
    data = item.to_json()
    if item.path is None:
        return data
    for source in roots:
        rel = folder_of(source, item.path)
        if rel is None:
            continue
        tree = folder_tree(source, rel)
        data.update(repo=source.name, folder=rel, tree=tree or _untracked(item.path))
        return data
    return data


def _hashed(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What of an entry counts: inside a checkout, the repo, folder and tree, not the path."""
    if "repo" in entry:
        return {k: v for k, v in entry.items() if k != "path"}
    return dict(entry)


def _untracked(path: Path) -> str:
    """A folder of a checkout that git does not track (ignored, generated): its content."""
    try:
        return f"content:{hash_path(path)}"
    except (OSError, ValueError):
        return "missing"
