"""``mlrecipes store gc``: free store entries, environments and mirrors nothing needs.

Kept, always:

* store entries and environments used by the last ``keep_last`` pipeline runs
  of this workspace (its usage records, :func:`~mlrecipes.core.store.usage.recent_usage`:
  no MLflow needed);
* store entries a declared ``!path`` output links to (what users see);
* the environment each current checkout would use (its key, computed from files);
* the git mirrors of this workspace's repos.

Git mirrors are shared by every workspace on the machine, and this one cannot
know what the others need: a mirror of another repo goes only with
``older_than_days``, when it was not fetched for that long. ``older_than_days``
also spares entries and environments younger than that. Removal is atomic per
item (renamed into a temp name, then deleted), so a crash never leaves a half
entry that counts as complete.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlrecipes.core.envs import ENV_MARKER
from mlrecipes.core.manifest import Manifest, PathRef
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.store.local import MARKER, Store
from mlrecipes.core.store.usage import recent_usage

DEFAULT_KEEP_LAST = 5
_DAY = 86400.0
Kind = Literal["entry", "environment", "mirror"]


@dataclass(frozen=True)
class GcItem:
    kind: Kind
    name: str  # ``step/fingerprint``, an environment key, a mirror's folder name
    path: Path
    size: int
    age_days: float


@dataclass(frozen=True)
class GcResult:
    """What was (or, with ``dry_run``, would be) removed, and what was kept."""

    removed: tuple[GcItem, ...]
    kept: int
    dry_run: bool
    partial: tuple[Path, ...] = field(default=())  # leftovers of killed writers, removed

    @property
    def freed(self) -> int:
        return sum(item.size for item in self.removed)


def collect_garbage(
    manifest: Manifest,
    *,
    keep_last: int = DEFAULT_KEEP_LAST,
    older_than_days: float | None = None,
    dry_run: bool = False,
    cache_dir: Path | None = None,
) -> GcResult:
    """Find (and unless ``dry_run`` remove) what no current state needs (module doc)."""
    paths = WorkspacePaths.for_manifest(manifest)
    usage = recent_usage(paths.runs, keep_last)
    keep_entries = set().union(*(u.entries for u in usage)) | _linked_entries(manifest, paths)
    keep_envs = set().union(*(u.envs for u in usage)) | _current_envs(manifest, paths)
    keep_mirrors = _current_mirrors(manifest) if older_than_days is not None else set()
    candidates = [
        *_entries(paths.store),
        *_environments(paths.envs),
        *_mirrors(cache_dir, include=older_than_days is not None),
    ]
    removed: list[GcItem] = []
    kept = 0
    for item in candidates:
        needed = (
            (item.kind == "entry" and tuple(item.name.split("/", 1)) in keep_entries)
            or (item.kind == "environment" and item.name in keep_envs)
            or (item.kind == "mirror" and item.path.name in keep_mirrors)
        )
        if needed or (older_than_days is not None and item.age_days < older_than_days):
            kept += 1
        else:
            removed.append(item)
    partial: list[Path] = []
    if not dry_run:
        store = Store(paths.store)
        partial = store.clean_partial()
        for item in removed:
            _remove(item, store)
    return GcResult(tuple(removed), kept, dry_run, tuple(partial))


def _linked_entries(manifest: Manifest, paths: WorkspacePaths) -> set[tuple[str, str]]:
    """Entries that a declared output place links to."""
    store_root = paths.store.resolve()
    found: set[tuple[str, str]] = set()
    for spec in manifest.steps.values():
        for out in spec.outs.values():
            if not isinstance(out, PathRef):
                continue
            place = manifest.resolve_path(out)
            if not place.is_symlink():
                continue
            target = Path(os.path.normpath(place.parent / place.readlink())).resolve()
            if target.is_relative_to(store_root):
                parts = target.relative_to(store_root).parts
                if len(parts) >= 2:
                    found.add((parts[0], parts[1]))
    return found


def _current_envs(manifest: Manifest, paths: WorkspacePaths) -> set[str]:
    """The environment keys of the checkouts as they are now (files only, no uv)."""
    from mlrecipes.core.envs import environment_key
    from mlrecipes.core.envs.spec import EnvSpec

    keys: set[str] = set()
    for name, repo in manifest.repos.items():
        base = manifest.dev_paths.get(name) or paths.checkouts / name
        project = base / repo.subdir if repo.subdir else base
        if project.is_dir():  # errors propagate: gc removes nothing it cannot rule on
            spec = EnvSpec(repo=name, project_dir=project, python=repo.python)
            keys.add(environment_key(spec))
    return keys


def _current_mirrors(manifest: Manifest) -> set[str]:
    from mlrecipes.core.sync.workspace_sync import source_spec
    from mlrecipes.git_sources.mirror import mirror_dir, remote_of

    names: set[str] = set()
    for repo in manifest.repos.values():
        remote = remote_of(source_spec(manifest, repo))
        names.add(mirror_dir(Path(), remote.key).name)
    return names


def _entries(store_root: Path) -> Iterator[GcItem]:
    if not store_root.is_dir():
        return
    for step_dir in sorted(p for p in store_root.iterdir() if p.is_dir()):
        if step_dir.name.startswith("."):
            continue
        for entry in sorted(step_dir.iterdir()):
            marker = entry / MARKER
            if entry.name.startswith(".") or not marker.is_file():
                continue
            yield _item("entry", f"{step_dir.name}/{entry.name}", entry, _finished_at(marker))


def _finished_at(marker: Path) -> float:
    try:
        value = json.loads(marker.read_text()).get("finished_at")
        return float(value) if value is not None else marker.stat().st_mtime
    except (ValueError, OSError):
        return marker.stat().st_mtime


def _environments(envs_dir: Path) -> Iterator[GcItem]:
    if not envs_dir.is_dir():
        return
    for folder in sorted(envs_dir.iterdir()):
        marker = folder / ENV_MARKER
        if folder.name.startswith(".") or not marker.is_file():
            continue
        yield _item("environment", folder.name, folder, marker.stat().st_mtime)


def _mirrors(cache_dir: Path | None, *, include: bool) -> Iterator[GcItem]:
    if not include:
        return
    from mlrecipes.git_sources import default_cache_dir, mirrors_dir

    git_dir = mirrors_dir(cache_dir or default_cache_dir())
    if not git_dir.is_dir():
        return
    for mirror in sorted(p for p in git_dir.iterdir() if p.is_dir()):
        if mirror.name.startswith("."):
            continue
        fetched = max((p.stat().st_mtime for p in _mirror_stamps(mirror)), default=0.0)
        yield _item("mirror", mirror.name, mirror, fetched or mirror.stat().st_mtime)


def _mirror_stamps(mirror: Path) -> Iterable[Path]:
    """Files git touches on each fetch of a bare mirror."""
    return [p for p in (mirror / "FETCH_HEAD", mirror / "packed-refs", mirror) if p.exists()]


def _item(kind: Kind, name: str, path: Path, stamp: float) -> GcItem:
    return GcItem(kind, name, path, _size(path), max(0.0, (time.time() - stamp) / _DAY))


def _size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return total


def _remove(item: GcItem, store: Store) -> None:
    if item.kind == "entry":
        step, fingerprint = item.name.split("/", 1)
        store.remove(step, fingerprint)
        for log in store.logs(step, fingerprint):
            log.unlink(missing_ok=True)
        return
    # Renamed first: a half-deleted environment or mirror never looks usable.
    trash = item.path.with_name(f".tmp-gc-{item.path.name}-{secrets.token_hex(4)}")
    try:
        item.path.replace(trash)
    except OSError:
        return  # gone meanwhile, or in use on a platform that refuses: leave it
    shutil.rmtree(trash, ignore_errors=True)
