"""Writes the stamp of a run that ended up to date or finished (see :mod:`.stamp`)."""

from __future__ import annotations

from collections.abc import Sequence

from mlrecipes.core.manifest import Manifest, local_path
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.plan.records import fingerprints_hash
from mlrecipes.core.run.options import RunOptions, RunResult
from mlrecipes.core.run.stamp import StampInputs, request_for, write_stamp
from mlrecipes.core.store.local import Store
from mlrecipes.core.sync.lock import lock_path_for
from mlrecipes.core.sync.workspace_sync import SyncResult
from mlrecipes.core.team_store.config import share_settings


def stampable(manifest: Manifest, paths: WorkspacePaths, options: RunOptions, uri: str) -> bool:
    """Whether a run with these options may be answered from a stamp next time."""
    return not (
        options.dry_run
        or options.new_run
        or manifest.dev_paths
        or paths.root != manifest.path.parent.resolve()
        or share_settings(manifest.store, uri, enabled=options.share) is not None
    )


def stamp_run(
    manifest: Manifest,
    paths: WorkspacePaths,
    synced: SyncResult,
    targets: Sequence[str],
    options: RunOptions,
    result: RunResult,
    *,
    since_ns: int,
    loaded_ns: int,
) -> None:
    """Stamp ``result`` when it says up to date or finished and nothing changed meanwhile.

    ``since_ns``: when this run began (the lock and deps it read are older);
    ``loaded_ns``: when the manifest and its overlay were read.
    """
    if result.status not in ("UP_TO_DATE", "FINISHED") or result.plan.remote:
        return
    overlay = local_path(manifest.path)
    for read in (manifest.path, overlay):
        if read.exists() and read.stat().st_mtime_ns >= loaded_ns:
            return  # edited after it was read: the plan may not match its bytes
    if not stampable(manifest, paths, options, result.tracking_uri):
        return
    plan, store = result.plan, Store(paths.store)
    steps = [s for v in plan.variants for s in v.steps]
    links = {
        place: store.entry(s.step, s.fingerprint) / s.outputs[name]
        for s in plan.variants[-1].steps
        for name, place in s.declared.items()
    }
    uri = result.tracking_uri
    inputs = StampInputs(
        files=[manifest.path.resolve(), overlay, lock_path_for(manifest.path)],
        deps=sorted(
            {s.input_paths[n] for s in steps for n, i in s.inputs.items() if i.startswith("file:")}
        ),
        entries=sorted({(s.step, s.fingerprint) for s in steps}),
        links=links,
        records=[paths.runs / f"{fingerprints_hash(v.fingerprints)}.json" for v in plan.variants],
        sqlite_db=uri.removeprefix("sqlite:///").split("?", 1)[0]
        if uri.startswith("sqlite:///")
        else None,
        envs=sorted({ctx.env.key for ctx in synced.repos.values()}),
    )
    write_stamp(
        request_for(manifest.path, targets, options), inputs, result.run_ids, since_ns=since_ns
    )
