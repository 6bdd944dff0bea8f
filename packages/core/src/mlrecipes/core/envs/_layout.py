"""Where environments live under ``envs_dir``, and the marker that says one is complete.

::

    envs_dir/
      <key>/                      a complete environment (it holds the marker)
        .mlrecipes-env.json       written last, before the folder gets its name
      .tmp-<key>-<random>/        a build in progress, or the leftover of a killed one
      .failed-<key>.log           uv's output of the last failed build of <key>
      .locks/<key>.lock           taken while <key> is built
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = ".mlrecipes-env.json"
MARKER_FORMAT = 1
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Marker:
    """What the completion marker of an environment records."""

    key: str
    mode: str
    deps_hash: str
    python: str
    """The interpreter, relative to the environment folder."""
    python_version: str
    repo: str
    project_dir: str

    def to_json(self) -> dict[str, Any]:
        return {"format": MARKER_FORMAT, "created": time.time(), **self.__dict__}


def env_dir(envs_dir: Path, key: str) -> Path:
    return envs_dir / key


def lock_path(envs_dir: Path, key: str) -> Path:
    return envs_dir / ".locks" / f"{key}.lock"


def failure_log(envs_dir: Path, key: str) -> Path:
    return envs_dir / f".failed-{key}.log"


def write_marker(folder: Path, marker: Marker) -> None:
    """Write the marker durably: it is what makes the folder count as complete."""
    path = folder / MARKER
    with path.open("w") as f:
        json.dump(marker.to_json(), f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def read_marker(folder: Path) -> Marker | None:
    """The marker of a complete environment at ``folder``, or None if it is not one."""
    try:
        data = json.loads((folder / MARKER).read_text())
        marker = Marker(**{k: data[k] for k in Marker.__dataclass_fields__})
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError, TypeError):
        return None
    # A dangling interpreter link (its base Python was removed) is not ready.
    if data.get("format") != MARKER_FORMAT or not (folder / marker.python).exists():
        return None
    return marker


def all_markers(envs_dir: Path) -> list[Marker]:
    """The markers of every complete environment in ``envs_dir``."""
    if not envs_dir.is_dir():
        return []
    found = (read_marker(p) for p in envs_dir.iterdir() if not p.name.startswith("."))
    return [m for m in found if m is not None]


def clean_leftovers(envs_dir: Path, key: str, key_length: int) -> None:
    """Remove temp folders of killed builds.

    The caller holds the lock of ``key``; other keys' temp folders are removed
    only when their lock is free (nobody is building them right now).
    """
    from filelock import FileLock, Timeout  # builds only: keep it out of every start-up

    for tmp in envs_dir.glob(f"{TMP_PREFIX}*"):
        other = tmp.name[len(TMP_PREFIX) : len(TMP_PREFIX) + key_length]
        if other == key:
            shutil.rmtree(tmp, ignore_errors=True)
            continue
        try:
            with FileLock(lock_path(envs_dir, other), timeout=0):
                shutil.rmtree(tmp, ignore_errors=True)
        except Timeout:
            continue


def discard(folder: Path, envs_dir: Path, key: str) -> None:
    """Remove ``folder``, first renaming it to a temp name so a kill midway leaves
    only a leftover, never a half-deleted environment under its key."""
    if not folder.exists():
        return
    doomed = envs_dir / f"{TMP_PREFIX}{key}-discard-{secrets.token_hex(4)}"
    folder.replace(doomed)
    shutil.rmtree(doomed, ignore_errors=True)
