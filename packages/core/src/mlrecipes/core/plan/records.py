"""Small local records that make a no-op ``run`` fast and ``--dry-run`` explain itself.

* ``.mlrecipes/runs/<fingerprints-hash>.json``: the finished MLflow parent run of a
  pipeline whose exact set of step fingerprints it logged. When every step of a
  run is cached and this record exists, ``run`` says "up to date" without
  importing MLflow.
* ``.mlrecipes/store/<step>/latest.json``: what the latest execution of a step
  hashed; ``.mlrecipes/store/<step>/.executions/<hash>.json``: the same for every
  distinct execution, so the next plan can say *why* a step reruns against the
  execution nearest to it (after a sweep, the latest one is some variant).

(What each run used, for ``store gc``, is :mod:`mlrecipes.core.store.usage`.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlrecipes.core.atomic import write_json_atomic
from mlrecipes.git_sources.urls import redact_url


def fingerprints_hash(fingerprints: Iterable[str]) -> str:
    """The identity of a pipeline run: the sorted set of its step fingerprints."""
    return hashlib.sha256("\n".join(sorted(set(fingerprints))).encode()).hexdigest()


def store_identity(tracking_uri: str) -> str | None:
    """Which database a ``sqlite:///`` store is (device and inode); None for other stores.

    A record is only trusted while its run's database is the same file: a
    deleted or replaced ``mlflow.db`` no longer holds the run, so the pipeline
    is logged again (its outputs stay cached). Servers are trusted as they are.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    rest = tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
    try:
        info = Path(rest).stat()
    except OSError:
        return "missing"
    return f"{info.st_dev}:{info.st_ino}"


def _create_sqlite(tracking_uri: str) -> str | None:
    """Create the (empty) sqlite file a run is about to be delivered to; its identity.

    A workspace's first run records itself before the warm tracker has created
    the store; without the file, the next command would see another database and
    log the same pipeline again. SQLite and MLflow take an empty file as an empty
    database.
    """
    path = Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return "missing"
    return store_identity(tracking_uri)


def read_finished_run(runs_dir: Path, fp_hash: str, tracking_uri: str) -> str | None:
    """The parent run id that logged this exact pipeline to ``tracking_uri``, if any."""
    try:
        data = json.loads((runs_dir / f"{fp_hash}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tracking_uri") != redact_url(tracking_uri):
        return None
    if data.get("store") != store_identity(tracking_uri):
        return None
    run_id = data.get("run_id")
    return run_id if isinstance(run_id, str) else None


def write_finished_run(runs_dir: Path, fp_hash: str, tracking_uri: str, run_id: str) -> None:
    # The URI may hold credentials (an `!env` tracking_uri): never on disk.
    uri = redact_url(tracking_uri)
    identity = store_identity(tracking_uri)
    if identity == "missing":  # the outbox delivers the run there later: name the file now
        identity = _create_sqlite(tracking_uri)
    data = {"run_id": run_id, "tracking_uri": uri, "store": identity}
    write_json_atomic(runs_dir / f"{fp_hash}.json", data)


EXECUTIONS = ".executions"


def write_latest(store_root: Path, step: str, components: Mapping[str, Any]) -> None:
    """Record what an execution of ``step`` hashed: as the latest, and among all of them."""
    write_json_atomic(store_root / step / "latest.json", components)
    canonical = json.dumps(components, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    write_json_atomic(store_root / step / EXECUTIONS / f"{digest}.json", components)


def read_executions(store_root: Path, step: str) -> list[dict[str, Any]]:
    """What every recorded execution of ``step`` hashed, the most recent first."""
    folder = store_root / step / EXECUTIONS
    files = [store_root / step / "latest.json"]  # records older than the folder have only this
    if folder.is_dir():
        files += sorted(folder.glob("*.json"), key=_mtime, reverse=True)
    found: list[dict[str, Any]] = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data not in found:
            found.append(data)
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
