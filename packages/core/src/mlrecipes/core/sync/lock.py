"""``workspace.lock``: the exact commits and environments a workspace runs with.

The lock is YAML, versioned, with sorted keys, so it diffs well and is stable
byte for byte. It holds no credentials: URLs are stored redacted. Written by
``mlrecipes workspace sync``; meant to be committed next to the manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlrecipes.core.atomic import write_text_atomic
from mlrecipes.core.errors import LockError

LOCK_VERSION = 1
_HEADER = "# written by `mlrecipes workspace sync`: commit it, do not edit it by hand\n"


@dataclass(frozen=True)
class LockedRepo:
    """One repo pinned in the lock."""

    url: str
    rev: str
    commit: str
    subdir: str | None
    tree: str
    env: str | None = None
    """Identity of the environment: its installed distributions with their sources
    and the trees of its path installs (:mod:`mlrecipes.core.sync.env_identity`)."""
    uses: tuple[str, ...] = ()
    """Repos installed into this repo's environment (``uses:``, transitively)."""
    git_refs: Mapping[str, str] = field(default_factory=dict)
    """Moving git references of the repo's own dependencies (``URL@ref``) -> commit."""

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        # Written only when set, so that locks of workspaces without them stay as they were.
        for key in ("uses", "git_refs"):
            data.pop(key)
        if self.uses:
            data["uses"] = list(self.uses)
        if self.git_refs:
            data["git_refs"] = dict(sorted(self.git_refs.items()))
        return data

    def covers(self, *, url: str, rev: str, subdir: str | None) -> bool:
        """Whether this entry was locked for the same (url, rev, subdir) as asked now."""
        return (self.url, self.rev, self.subdir) == (url, rev, subdir)


@dataclass(frozen=True)
class Lock:
    repos: Mapping[str, LockedRepo]
    version: int = LOCK_VERSION

    def dumps(self) -> str:
        data = {
            "version": self.version,
            "repos": {name: self.repos[name].to_data() for name in sorted(self.repos)},
        }
        return _HEADER + yaml.safe_dump(data, sort_keys=True, default_flow_style=False)

    def digest(self) -> str:
        """sha256 of the canonical text: the lock hash tagged on MLflow runs."""
        return hashlib.sha256(self.dumps().encode()).hexdigest()


def lock_path_for(manifest_path: Path) -> Path:
    """The lock beside a manifest: ``workspace.yaml`` -> ``workspace.lock``,
    ``workspace.example.yaml`` -> ``workspace.example.lock``."""
    stem = manifest_path.name.removesuffix(".yaml").removesuffix(".yml")
    return manifest_path.parent / f"{stem}.lock"


def read_lock(path: Path) -> Lock | None:
    """The lock at ``path``, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise LockError(
            f"{path}: cannot read the lock ({why})",
            path=path,
            hint="delete it and run `mlrecipes workspace sync` to write a new one",
        ) from None
    return parse_lock(text, path=path)


def parse_lock(text: str, *, path: Path) -> Lock:
    hint = "delete it and run `mlrecipes workspace sync` to write a new one"
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise LockError(f"{path}: not valid YAML ({why})", path=path, hint=hint) from None
    if (
        not isinstance(data, dict)
        or data.get("version") != LOCK_VERSION
        or not isinstance(data.get("repos") or {}, dict)
    ):
        raise LockError(
            f"{path}: unsupported lock (expected version {LOCK_VERSION})", path=path, hint=hint
        )
    repos: dict[str, LockedRepo] = {}
    for name, entry in (data.get("repos") or {}).items():
        try:
            repos[str(name)] = _locked_repo(entry)
        except (TypeError, KeyError, ValueError) as exc:
            raise LockError(
                f"{path}: bad entry for repo {name!r}: {exc}", path=path, hint=hint
            ) from None
    return Lock(repos=repos)


def _locked_repo(entry: Any) -> LockedRepo:
    if not isinstance(entry, dict):
        raise TypeError("not a mapping")
    commit = str(entry["commit"])
    if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
        raise ValueError(f"commit {commit!r} is not a 40-hex SHA")
    return LockedRepo(
        url=str(entry["url"]),
        rev=str(entry["rev"]),
        commit=commit,
        subdir=None if entry.get("subdir") is None else str(entry["subdir"]),
        tree=str(entry["tree"]),
        env=None if entry.get("env") is None else str(entry["env"]),
        uses=tuple(str(u) for u in entry.get("uses") or ()),
        git_refs={str(k): str(v) for k, v in (entry.get("git_refs") or {}).items()},
    )


def write_lock(path: Path, lock: Lock) -> bool:
    """Write atomically; returns False (and writes nothing) when the content is unchanged."""
    text = lock.dumps()
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):  # a damaged lock is replaced
        pass
    write_text_atomic(path, text)
    return True
