"""Turning a logged run's artifacts into a workspace folder that runs the same pipeline.

The logged manifest may name repos by local paths (``url: ../models``,
``url: .``). The work folder lives elsewhere, maybe on another machine, so those
URLs are rewritten to the URL the run recorded for the repo
(``mlrecipes.repo.<name>.url``: fetchable by a teammate, see
:mod:`mlrecipes.git_sources.shareable`), in the manifest text and in the lock
alike: the lock keeps covering the manifest (``--frozen``), and the work folder
is a self-contained workspace that a user can inspect and run again. Only the
URL scalars change; every other byte stays. A repo recorded as local-only is
used from its folder when this machine has it, and refused by name otherwise.
Runs logged before URLs were recorded that way resolve relative URLs against
``mlrecipes.workspace_root``.

External input files (``!path`` deps) are not artifacts: they are linked from the
original workspace folder, and their content hashes keep the fingerprints honest.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from mlrecipes.core.errors import ReproduceError
from mlrecipes.core.manifest import Manifest, PathRef, load_manifest
from mlrecipes.core.reproduce.origin import LoggedRun
from mlrecipes.core.sync.lock import Lock, lock_path_for, parse_lock, write_lock
from mlrecipes.git_sources.shareable import is_relative_path
from mlrecipes.git_sources.urls import classify

_STR_TAG = "tag:yaml.org,2002:str"


def is_relative_local(url: str) -> bool:
    """A local path that depends on the manifest's folder (not absolute, not ``~``)."""
    return classify(url) == "local" and not url.startswith(("/", "~"))


def absolute_url(url: str, root: Path) -> str:
    """``url`` against ``root`` when it is a relative local path; unchanged otherwise."""
    return os.path.normpath(root / url) if is_relative_local(url) else url


def _section(root: yaml.Node | None, name: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == name and isinstance(value, yaml.MappingNode):
            return list(value.value)
    return []


def _plain(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _STR_TAG


def _url_nodes(tree: yaml.Node | None) -> Iterator[tuple[str, yaml.ScalarNode]]:
    """Each repo's name and plain-string ``url`` scalar (``!env`` ones are skipped)."""
    for name, repo in _section(tree, "repos"):
        if isinstance(repo, yaml.MappingNode):
            for field, node in repo.value:
                if field.value == "url" and isinstance(node, yaml.ScalarNode) and _plain(node):
                    yield str(name.value), node


def _escaping_roots(tree: yaml.Node | None, written: set[str]) -> Iterator[yaml.ScalarNode]:
    """``paths`` roots outside the manifest's folder (``../data``) that no step writes to."""
    for key, node in _section(tree, "paths"):
        if isinstance(node, yaml.ScalarNode) and _plain(node) and key.value not in written:
            parts = Path(node.value).parts
            if parts and parts[0] == ".." and is_relative_local(node.value):
                yield node


def rewrite_relative(text: str, root: Path, *, written_roots: set[str]) -> str:
    """``text`` with relative repo URLs, and read-only ``paths`` roots outside the
    manifest's folder, made absolute against ``root``; every other byte unchanged."""
    tree = yaml.compose(text, Loader=yaml.SafeLoader)
    urls = {name: absolute_url(n.value, root) for name, n in _url_nodes(tree)}
    return rewrite_sources(text, urls, root, written_roots=written_roots)


def rewrite_sources(
    text: str, urls: Mapping[str, str], root: Path | None, *, written_roots: set[str]
) -> str:
    """``text`` with each repo's ``url`` replaced by ``urls[repo]`` where that differs,
    and (given a ``root``) read-only ``paths`` roots outside the manifest's folder made
    absolute against it; every other byte unchanged."""
    tree = yaml.compose(text, Loader=yaml.SafeLoader)  # composing builds no tag objects
    edits = [(n, urls[name]) for name, n in _url_nodes(tree) if urls.get(name, n.value) != n.value]
    if root is not None:
        edits += [(n, absolute_url(n.value, root)) for n in _escaping_roots(tree, written_roots)]
    for node, value in sorted(edits, key=lambda e: e[0].start_mark.index, reverse=True):
        quoted = json.dumps(value)  # a valid YAML double-quoted scalar
        text = text[: node.start_mark.index] + quoted + text[node.end_mark.index :]
    return text


def source_urls(logged: LoggedRun, lock: Lock) -> dict[str, str]:
    """The URL to fetch each repo of the lock from, for those the lock names by a local
    path; raises :class:`ReproduceError` for a local-only repo this machine lacks."""
    recorded = logged.repos()
    urls: dict[str, str] = {}
    for name, entry in lock.repos.items():
        if classify(entry.url) not in ("local", "file"):
            continue
        repo = recorded.get(name)
        url = repo.url if repo else ""
        if repo is not None and repo.local_only:
            urls[name] = _local_only(logged, name, url)
        elif url and not is_relative_path(url):
            urls[name] = url  # fetchable wherever the run is reproduced
        elif is_relative_local(entry.url):
            urls[name] = absolute_url(entry.url, _root(logged))  # logged before URLs were
    return urls


def _local_only(logged: LoggedRun, name: str, path: str) -> str:
    if path and Path(path).is_dir():
        return path  # the machine that ran it (or one that has the same folder)
    raise ReproduceError(
        f"repo {name!r} of run {logged.run_id} is local-only: it was recorded as the folder "
        f"{path or '?'}, which had no git remote, and this machine has no such folder",
        run_id=logged.run_id,
        hint=f"give {name!r} a remote (`git remote add origin URL`, then push), run the "
        "pipeline again and reproduce that run, or reproduce on the machine that ran it",
    )


def _written_roots(manifest_file: Path) -> set[str]:
    """Names of the ``paths`` roots that some step writes a ``!path`` output into."""
    manifest = load_manifest(manifest_file, local=False)
    return {
        out.root
        for step in manifest.steps.values()
        for out in step.outs.values()
        if isinstance(out, PathRef)
    }


def _root(logged: LoggedRun) -> Path:
    if logged.workspace_root is None:
        raise ReproduceError(
            f"run {logged.run_id} names repos or paths relative to its manifest but has no "
            "mlrecipes.workspace_root tag to resolve them against",
            run_id=logged.run_id,
            hint="it was logged by an older mlrecipes; run the pipeline again and reproduce that",
        )
    return logged.workspace_root


def materialized_manifest(logged: LoggedRun) -> str:
    """The text of the work folder's manifest (see module doc)."""
    text = logged.manifest_file.read_text(encoding="utf-8")
    urls = source_urls(logged, _logged_lock(logged))
    written = _written_roots(logged.manifest_file)
    tree = yaml.compose(text, Loader=yaml.SafeLoader)
    root = _root(logged) if any(_escaping_roots(tree, written)) else None
    return rewrite_sources(text, urls, root, written_roots=written)


def _logged_lock(logged: LoggedRun) -> Lock:
    return parse_lock(logged.lock_file.read_text(encoding="utf-8"), path=logged.lock_file)


def write_workspace(logged: LoggedRun, workdir: Path) -> Path:
    """Write the logged manifest and lock into ``workdir``; the manifest's path.

    Refuses a ``workdir`` that holds another workspace's manifest, or the
    original workspace itself (its manifest would be overwritten).
    """
    text = materialized_manifest(logged)
    target = workdir / logged.manifest_name
    if logged.workspace_root is not None and workdir.resolve() == logged.workspace_root.resolve():
        raise ReproduceError(
            f"--workdir {workdir} is the run's own workspace folder",
            run_id=logged.run_id,
            hint="reproduce in another (empty) folder; the default is a fresh temporary one",
        )
    if target.exists() and target.read_text(encoding="utf-8") != text:
        raise ReproduceError(
            f"{target} already holds another manifest",
            run_id=logged.run_id,
            hint="give an empty `workdir`, or the folder of an earlier reproduction of this run",
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / REPRODUCTION_MARKER).write_text(
        json.dumps({"reproduces": logged.run_id}) + "\n", encoding="utf-8"
    )
    target.write_text(text, encoding="utf-8")
    _write_lock(logged, lock_path_for(target))
    return target


REPRODUCTION_MARKER = ".mlrecipes-reproduction.json"
"""Left in a work folder so that a later ``reproduce --workdir`` of the same run may reuse it."""


def check_workdir(run_id: str, workdir: Path) -> None:
    """A work folder given by the user is new, empty, or an earlier reproduction of this run.

    Checked before anything is written into it (the logged run's artifacts are
    downloaded into the work folder first).
    """
    if not workdir.exists():
        return
    if not workdir.is_dir():
        raise ReproduceError(
            f"--workdir {workdir} is not a folder", run_id=run_id, hint=_WORKDIR_HINT
        )
    if not any(workdir.iterdir()):
        return
    try:
        marker = json.loads((workdir / REPRODUCTION_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = None
    if isinstance(marker, dict) and marker.get("reproduces") == run_id:
        return
    raise ReproduceError(
        f"--workdir {workdir} exists, is not empty and holds no reproduction of run "
        f"{run_id}; refusing to write a workspace into it",
        run_id=run_id,
        hint=_WORKDIR_HINT,
    )


_WORKDIR_HINT = "give a new or empty folder, or the folder of an earlier reproduction of this run"


def _write_lock(logged: LoggedRun, target: Path) -> None:
    lock = _logged_lock(logged)
    urls = source_urls(logged, lock)
    repos = {
        name: dataclasses.replace(entry, url=urls[name]) if name in urls else entry
        for name, entry in lock.repos.items()
    }
    write_lock(target, dataclasses.replace(lock, repos=repos))


def link_inputs(manifest: Manifest, logged: LoggedRun) -> None:
    """Link each external input (``!path`` dep) of the work folder to the original file."""
    missing: list[str] = []
    for dep in _external_deps(manifest):
        place = manifest.resolve_path(dep)
        if place.exists() or place.is_symlink():
            continue  # an absolute root, or linked by an earlier reproduction
        rel = _relative(Path(os.path.normpath(place)), manifest.root)
        origin = logged.workspace_root / rel if logged.workspace_root and rel else None
        if origin is None or not origin.exists():
            missing.append(f"{dep} ({origin or place})")
            continue
        place.parent.mkdir(parents=True, exist_ok=True)
        place.symlink_to(origin, target_is_directory=origin.is_dir())
    if missing:
        raise ReproduceError(
            f"run {logged.run_id} reads input(s) that are no longer there: {', '.join(missing)}",
            run_id=logged.run_id,
            hint="input files are not logged with the run; restore them in the original "
            "workspace folder",
        )


def _external_deps(manifest: Manifest) -> list[PathRef]:
    found = {
        dep
        for step in manifest.steps.values()
        for dep in step.deps.values()
        if isinstance(dep, PathRef)
    }
    return sorted(found, key=str)


def _relative(place: Path, root: Path) -> Path | None:
    try:
        return place.relative_to(root)
    except ValueError:
        return None
