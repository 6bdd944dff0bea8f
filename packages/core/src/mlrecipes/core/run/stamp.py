"""The no-op fast path of ``run``: a stamp of everything an "up to date" answer relied on.

A run that ended up to date (or finished) writes ``.mlrecipes/runs/stamps/<key>.json``,
``<key>`` naming the manifest and every run option that changes the plan. The stamp
holds what the answer relied on: the bytes of the manifest, its local overlay and
the lock (or their absence), the environment variables the manifest may read, the
mlrecipes code that plans, the ``!path`` deps (size, mtime, inode of every file),
each store entry used, each declared output link, the finished-run records and the
MLflow database. The next ``run`` with the same key reads the stamp and checks each
of those without loading, validating or planning anything; any difference, or
anything it cannot tell, is a miss and the full path runs.

Not stamped (the full path always runs): ``--dev`` working copies, a team store,
``new_run``, a dry run, a file that changed while the run was going on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from mlrecipes.core.paths import WorkspacePaths

FORMAT = 1
# Environment variables that decide where runs go or how mlrecipes behaves.
_ENV_PREFIXES = ("MLFLOW_", "MLRECIPES_", "UV_")
_CORE = Path(__file__).resolve().parents[1]


class RunOptionsLike(Protocol):
    """The fields of :class:`~mlrecipes.core.run.options.RunOptions` a stamp's key reads."""

    @property
    def overrides(self) -> Sequence[str]: ...
    @property
    def executor(self) -> str | None: ...
    @property
    def ray_address(self) -> str | None: ...
    @property
    def ray_storage(self) -> str | None: ...
    @property
    def large_sweep(self) -> bool: ...
    @property
    def share(self) -> bool: ...


@dataclass(frozen=True)
class StampRequest:
    """The run options that change the plan (what the stamp's file name stands for)."""

    manifest: str
    targets: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    executor: str | None = None
    ray_address: str | None = None
    ray_storage: str | None = None
    large_sweep: bool = False
    share: bool = True

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class StampHit:
    """What an up-to-date run answers: its parent runs (local ids, resolved by the caller)."""

    run_ids: tuple[str, ...]
    entries: tuple[tuple[str, str], ...]
    envs: tuple[str, ...]


def stamp_path(request: StampRequest) -> Path:
    root = Path(request.manifest).parent
    return WorkspacePaths(root).run_stamps / f"{request.key()[:32]}.json"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _environment(texts: Iterable[bytes]) -> str:
    """A digest of every variable a manifest names (``!env X``, ``${X}``) and ours."""
    words = set()
    for text in texts:
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text.decode("utf-8", "replace")))
    named = sorted(
        (k, v) for k, v in os.environ.items() if k in words or k.startswith(_ENV_PREFIXES)
    )
    return hashlib.sha256(json.dumps(named).encode()).hexdigest()


def _code() -> str:
    """The mlrecipes core that planned, and the Python that runs it."""
    rows = [sys.version]
    for folder, _, files in sorted(os.walk(_CORE)):
        for name in sorted(files):
            if name.endswith(".py"):
                info = (Path(folder) / name).stat()
                rows.append(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _tree(path: Path) -> list[list[Any]]:
    """Size, mtime and inode of ``path`` and, for a folder, of everything under it."""
    rows: list[list[Any]] = []
    paths = [path]
    if path.is_dir():
        paths += sorted(p for p in path.rglob("*"))
    for item in paths:
        try:
            info = item.lstat()
        except OSError:
            rows.append([str(item), None])
            continue
        rows.append([str(item), info.st_size, info.st_mtime_ns, info.st_ino, info.st_mode])
    return rows


def _link(place: Path) -> str | None:
    try:
        return str(place.readlink())
    except OSError:
        return None


def _db_identity(db: str | None) -> str | None:
    if db is None:
        return None
    try:
        info = Path(db).stat()
    except OSError:
        return "missing"
    return f"{info.st_dev}:{info.st_ino}"


@dataclass(frozen=True)
class StampInputs:
    """What the stamp relied on, as found at write time."""

    files: Sequence[Path]  # manifest, local overlay, lock: bytes (or absence)
    deps: Sequence[Path]  # `!path` deps: stat of every file
    entries: Sequence[tuple[str, str]]  # (step, fingerprint) of every store entry used
    links: Mapping[Path, Path]  # declared place -> the target it must point at
    records: Sequence[Path]  # the finished-run records the answer read
    sqlite_db: str | None  # the embedded MLflow database, None for a server
    envs: Sequence[str]


def _state(request: StampRequest, inputs: StampInputs) -> dict[str, Any]:
    """Everything that must be unchanged for a hit (computed alike on write and check)."""
    texts = [p.read_bytes() for p in inputs.files if p.is_file()]
    store = WorkspacePaths(Path(request.manifest).parent).store
    return {
        "files": {str(p): _digest(p) for p in inputs.files},
        "env": _environment(texts),
        "code": _code(),
        "deps": [_tree(p) for p in inputs.deps],
        "entries": [_tree(store / step / fp) for step, fp in inputs.entries],
        "links": {str(place): _link(place) for place in inputs.links},
        "records": [_tree(p) for p in inputs.records],
        "db": _db_identity(inputs.sqlite_db),
    }


def write_stamp(
    request: StampRequest, inputs: StampInputs, run_ids: Sequence[str], *, since_ns: int
) -> bool:
    """Stamp an up-to-date answer; False (no stamp) when an input changed after ``since_ns``."""
    state = _state(request, inputs)
    for place, target in inputs.links.items():
        if state["links"][str(place)] != os.path.relpath(target, place.parent):
            return False  # a copy, not a link: nothing cheap tells it is current
    stats = [
        row for group in ("deps", "entries", "records") for tree in state[group] for row in tree
    ]
    # Only what users change counts; the entries and records this run wrote are new.
    newest = max((row[2] for tree in state["deps"] for row in tree if len(row) > 2), default=0)
    files_newest = max((p.stat().st_mtime_ns for p in inputs.files if p.is_file()), default=0)
    if max(newest, files_newest) >= since_ns or any(row[1] is None for row in stats):
        return False  # changed during the run (or gone): its plan may not match
    data = {
        "format": FORMAT,
        "request": asdict(request),
        "inputs": {
            "files": [str(p) for p in inputs.files],
            "deps": [str(p) for p in inputs.deps],
            "entries": [list(e) for e in inputs.entries],
            "links": [str(p) for p in inputs.links],
            "records": [str(p) for p in inputs.records],
            "sqlite_db": inputs.sqlite_db,
            "envs": list(inputs.envs),
        },
        "state": state,
        "run_ids": list(run_ids),
    }
    path = stamp_path(request)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, sort_keys=True))
    tmp.replace(path)
    return True


def check_stamp(request: StampRequest) -> StampHit | None:
    """The stamped answer when nothing it relied on changed; None otherwise."""
    try:
        data = json.loads(stamp_path(request).read_text())
        if data["format"] != FORMAT or data["request"] != json.loads(json.dumps(asdict(request))):
            return None
        raw = data["inputs"]
        inputs = StampInputs(
            files=[Path(p) for p in raw["files"]],
            deps=[Path(p) for p in raw["deps"]],
            entries=[(str(s), str(f)) for s, f in raw["entries"]],
            links={Path(p): Path(p) for p in raw["links"]},
            records=[Path(p) for p in raw["records"]],
            sqlite_db=raw["sqlite_db"],
            envs=[str(e) for e in raw["envs"]],
        )
        if json.loads(json.dumps(_state(request, inputs))) != data["state"]:
            return None
        return StampHit(
            tuple(str(r) for r in data["run_ids"]), tuple(inputs.entries), tuple(inputs.envs)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def request_for(manifest: Path, targets: Sequence[str], options: RunOptionsLike) -> StampRequest:
    return StampRequest(
        manifest=str(manifest.resolve()),
        targets=tuple(targets),
        overrides=tuple(options.overrides),
        executor=options.executor,
        ray_address=options.ray_address,
        ray_storage=options.ray_storage,
        large_sweep=options.large_sweep,
        share=options.share,
    )
