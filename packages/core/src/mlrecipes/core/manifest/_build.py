"""The structural pass: a located YAML tree to a (draft) :class:`Manifest`.

It checks kinds of values, required and unknown keys, names and the syntax of
every value; what needs the whole manifest (unknown references, overlapping
outputs, cycles) is left to :mod:`mlrecipes.core.manifest.validate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.manifest._cache import build_cache
from mlrecipes.core.manifest._context import Context, describe
from mlrecipes.core.manifest._formats import (
    name_problem,
    normalize_rel,
    parse_memory,
    python_problem,
    reserved_problem,
    rev_problem,
    url_problem,
)
from mlrecipes.core.manifest._frozen import FrozenMap
from mlrecipes.core.manifest._steps import build_steps
from mlrecipes.core.manifest._values import check_logged_name, param_value, text_or_env
from mlrecipes.core.manifest._yaml import Broken, Entry, YMap, YNode, YSeq
from mlrecipes.core.manifest.model import (
    RAY_STORAGES,
    SHARE_MODES,
    SUPPORTED_VERSIONS,
    EnvRef,
    ExecutorConfig,
    Location,
    Manifest,
    MlflowConfig,
    RayStorage,
    RepoSpec,
    ShareMode,
    StoreConfig,
    Value,
)
from mlrecipes.core.suggest import did_you_mean
from mlrecipes.git_sources.rules import REV_HINT, URL_HINT

# Top-level keys starting with `x-` are also accepted and ignored (anchors to reuse).
TOP_KEYS = ("version", "name", "mlflow", "paths", "params", "repos", "steps", "executor", "store")
REPO_KEYS = ("url", "rev", "subdir", "python", "uses", "cache")
MLFLOW_KEYS = ("tracking_uri", "experiment")
EXECUTOR_KEYS = ("kind", "address", "storage")
EXECUTOR_KINDS = ("local", "ray")
STORE_KEYS = ("share", "max_size")
_Check = Callable[[str], str | None]
_QUOTE = 'quote it, so YAML keeps it as text: rev: "1.10"'


@dataclass(frozen=True)
class Draft:
    """What the structural pass could read: a manifest and the declared names.

    ``declared_steps`` and ``declared_repos`` include entries that had problems,
    so that references to them are not reported a second time.
    """

    manifest: Manifest
    declared_steps: frozenset[str]
    declared_repos: frozenset[str]
    entries: dict[str, Entry]

    def entries_under(self, key_path: str) -> list[str]:
        """The keys written directly under ``key_path`` (problems or not), sorted."""
        return self._children().get(key_path, [])

    def _children(self) -> dict[str, list[str]]:
        # An index built once: scanning every entry per call made validation
        # quadratic in the number of steps (2.4 s to load 1000 steps).
        index = self.__dict__.get("_index")
        if index is None:
            index = {}
            for key in self.entries:
                parent, dot, child = key.rpartition(".")
                if dot:
                    index.setdefault(parent, []).append(child)
            for children in index.values():
                children.sort()
            object.__setattr__(self, "_index", index)
        return index


def build(ctx: Context, root: YNode, path: Path) -> Draft | None:
    """Read the manifest's structure; None when the version cannot be read on."""
    if root is None:
        hint = "start from `mlrecipes schema` or the example in the README"
        ctx.report(Location(ctx.file, 1, 1), "the manifest is empty", "", hint)
        return None
    where = root.loc if isinstance(root, YSeq) else Location(ctx.file, 1, 1)
    top = ctx.mapping(root, where, "", "a mapping of keys (version, name, ...)")
    if top is None:
        return None
    if not _version_supported(ctx, top):
        return None
    ctx.keys(top, "", TOP_KEYS, ("name",), extensions=True)
    parts = top.entries
    name = ctx.text(parts["name"], "name") if "name" in parts else None
    steps = build_steps(ctx, parts["steps"]) if "steps" in parts else {}
    repos = _repos(ctx, parts.get("repos"))
    manifest = Manifest(
        path=path,
        version=SUPPORTED_VERSIONS[-1],
        name=name or "",
        mlflow=_mlflow(ctx, parts.get("mlflow")),
        paths=FrozenMap(_paths(ctx, parts.get("paths"))),
        params=FrozenMap(_params(ctx, parts.get("params"))),
        repos=FrozenMap(repos),
        steps=FrozenMap(steps),
        executor=_executor(ctx, parts.get("executor")),
        store=_store(ctx, parts.get("store")),
    )
    return Draft(
        manifest, _declared(parts.get("steps")), _declared(parts.get("repos")), ctx.entries
    )


def _declared(entry: Entry | None) -> frozenset[str]:
    if entry is None or not isinstance(entry.value, YMap):
        return frozenset()
    return frozenset(entry.value.entries)


def _version_supported(ctx: Context, top: YMap) -> bool:
    """Check ``version`` first: a version this code does not know stops the reading."""
    entry = top.entries.get("version")
    supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
    if entry is None:
        hint = f"add `version: {SUPPORTED_VERSIONS[-1]}` as the first line"
        ctx.report(top.loc, "missing required key 'version'", "version", hint)
        return True
    value = entry.value
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.report(
            entry.value_loc,
            f"version must be an integer, got {describe(value)}",
            "version",
            f"supported: {supported}",
        )
        return True
    if value not in SUPPORTED_VERSIONS:
        ctx.report(
            entry.value_loc,
            f"unsupported manifest version {value}",
            "version",
            f"this mlrecipes reads version {supported}; upgrade mlrecipes for newer ones",
        )
        return False
    return True


def _named_map(ctx: Context, entry: Entry | None, key_path: str) -> YMap | None:
    """A mapping whose keys are names (paths, params, repos)."""
    if entry is None:
        return None
    ymap = ctx.mapping(entry.value, entry.value_loc, key_path)
    if ymap is None:
        return None
    ctx.keys(ymap, key_path, list(ymap.entries))
    for key, item in ymap.entries.items():
        if why := name_problem(key):
            ctx.report(item.key_loc, why, f"{key_path}.{key}")
    return ymap


def _paths(ctx: Context, entry: Entry | None) -> dict[str, str]:
    """Roots must be relative and stay inside the manifest's folder (so a workspace moves whole)."""
    ymap = _named_map(ctx, entry, "paths")
    roots: dict[str, str] = {}
    for key, item in (ymap.entries if ymap else {}).items():
        text = ctx.text(item, f"paths.{key}")
        if text is None:
            continue
        norm, why = normalize_rel(text)
        if why:
            ctx.report(
                item.value_loc,
                f"path root {key!r} {why}",
                f"paths.{key}",
                "roots are relative to the manifest's folder and stay inside it",
            )
        elif why := reserved_problem(norm):
            hint = ".mlrecipes holds the store and checkouts: read other steps' outputs with !out"
            ctx.report(item.value_loc, f"path root {key!r} {why}", f"paths.{key}", hint)
        else:
            roots[key] = norm or "."
    return roots


def _params(ctx: Context, entry: Entry | None) -> dict[str, Value]:
    ymap = _named_map(ctx, entry, "params")
    params: dict[str, Value] = {}
    for key, item in (ymap.entries if ymap else {}).items():
        if not name_problem(key):
            check_logged_name(ctx, item.key_loc, f"params.{key}")
        value = param_value(ctx, item.value, item.value_loc, f"params.{key}", global_=True)
        if not isinstance(value, Broken):
            params[key] = value
    return params


def _repos(ctx: Context, entry: Entry | None) -> dict[str, RepoSpec]:
    ymap = _named_map(ctx, entry, "repos")
    repos: dict[str, RepoSpec] = {}
    for name, item in (ymap.entries if ymap else {}).items():
        repo = _repo(ctx, name, item)
        if repo is not None:
            repos[name] = repo
    return repos


def _repo(ctx: Context, name: str, entry: Entry) -> RepoSpec | None:
    path = f"repos.{name}"
    ymap = ctx.mapping(entry.value, entry.value_loc, path)
    if ymap is None:
        return None
    ctx.keys(ymap, path, REPO_KEYS, ("url", "rev"), owner=entry.key_loc)
    parts = ymap.entries
    url = _url(ctx, parts["url"], f"{path}.url") if "url" in parts else None
    rev = _checked(ctx, parts.get("rev"), f"{path}.rev", rev_problem, _QUOTE, REV_HINT)
    subdir = _subdir(ctx, parts.get("subdir"), f"{path}.subdir")
    python = _checked(
        ctx,
        parts.get("python"),
        f"{path}.python",
        python_problem,
        'quote it, so YAML keeps it as text: python: "3.11"',
    )
    uses = _uses(ctx, parts.get("uses"), f"{path}.uses")
    code = build_cache(ctx, parts.get("cache"), f"{path}.cache")
    if url is None or rev is None:
        return None
    names = tuple(n for n, _ in uses)
    locs = tuple(loc for _, loc in uses)
    return RepoSpec(
        name, url, rev, subdir, python, loc=entry.key_loc, uses=names, uses_locs=locs, code=code
    )


def _uses(ctx: Context, entry: Entry | None, key_path: str) -> list[tuple[str, Location]]:
    """``uses: [repo, ...]``: names only here; the meaning pass checks that they exist."""
    if entry is None or entry.value is None:
        return []
    hint = "a list of repo names, e.g. uses: [features]"
    if not isinstance(entry.value, YSeq):
        if not isinstance(entry.value, Broken):
            ctx.report(
                entry.value_loc, f"expected a list, got {describe(entry.value)}", key_path, hint
            )
        return []
    found: list[tuple[str, Location]] = []
    for index, (item, loc) in enumerate(entry.value.items):
        where = f"{key_path}[{index}]"
        if not isinstance(item, str):
            if not isinstance(item, Broken):
                ctx.report(loc, f"expected a repo name, got {describe(item)}", where, hint)
        elif any(item == seen for seen, _ in found):
            ctx.report(loc, f"repo {item!r} is listed twice", where, "list each repo once")
        else:
            found.append((item, loc))
    return found


def _url(ctx: Context, entry: Entry, key_path: str) -> str | EnvRef | None:
    url = text_or_env(ctx, entry.value, entry.value_loc, key_path)
    text = url.template if isinstance(url, EnvRef) else url
    # Never echo the URL: it may carry credentials.
    if text is not None and (why := url_problem(text)):
        ctx.report(entry.value_loc, f"repo url {why}", key_path, URL_HINT)
        return None
    return url


def _checked(
    ctx: Context,
    entry: Entry | None,
    key_path: str,
    check: _Check,
    hint: str,
    problem_hint: str | None = None,
) -> str | None:
    if entry is None:
        return None
    text = ctx.text(entry, key_path, hint)
    if text is not None and (why := check(text)):
        field = key_path.rsplit(".", 1)[-1]
        ctx.report(entry.value_loc, f"{field} {why}", key_path, problem_hint)
        return None
    return text


def _subdir(ctx: Context, entry: Entry | None, key_path: str) -> str | None:
    if entry is None:
        return None
    text = ctx.text(entry, key_path)
    if text is None:
        return None
    norm, why = normalize_rel(text)
    if why:
        ctx.report(entry.value_loc, f"subdir {why}", key_path, "a folder inside the repository")
        return None
    return norm or None


def _mlflow(ctx: Context, entry: Entry | None) -> MlflowConfig:
    if entry is None:
        return MlflowConfig()
    ymap = ctx.mapping(entry.value, entry.value_loc, "mlflow")
    if ymap is None:
        return MlflowConfig()
    ctx.keys(ymap, "mlflow", MLFLOW_KEYS)
    uri_entry, exp_entry = ymap.entries.get("tracking_uri"), ymap.entries.get("experiment")
    uri = (
        text_or_env(ctx, uri_entry.value, uri_entry.value_loc, "mlflow.tracking_uri")
        if uri_entry
        else None
    )
    experiment = ctx.text(exp_entry, "mlflow.experiment") if exp_entry else None
    return MlflowConfig(uri, experiment)


def _executor(ctx: Context, entry: Entry | None) -> ExecutorConfig:
    if entry is None:
        return ExecutorConfig()
    ymap = ctx.mapping(entry.value, entry.value_loc, "executor")
    if ymap is None:
        return ExecutorConfig()
    ctx.keys(ymap, "executor", EXECUTOR_KEYS)
    kind_entry, addr_entry = ymap.entries.get("kind"), ymap.entries.get("address")
    kind = ctx.text(kind_entry, "executor.kind") if kind_entry else "local"
    address = ctx.text(addr_entry, "executor.address") if addr_entry else None
    if kind_entry and kind is not None and kind not in EXECUTOR_KINDS:
        ctx.report(
            kind_entry.value_loc,
            f"unknown executor kind {kind!r}",
            "executor.kind",
            did_you_mean(kind, EXECUTOR_KINDS),
        )
        kind = None
    storage_entry = ymap.entries.get("storage")
    storage = _storage(ctx, storage_entry) if storage_entry else "shared"
    return ExecutorConfig(
        "ray" if kind == "ray" else "local",
        address,
        storage,
        storage_entry.value_loc if storage_entry else None,
    )


def _storage(ctx: Context, entry: Entry) -> RayStorage:
    for mode in RAY_STORAGES:
        if entry.value == mode:
            return mode
    ctx.report(
        entry.value_loc,
        f"executor.storage must be one of {', '.join(RAY_STORAGES)}, got {_shown(entry.value)}",
        "executor.storage",
        did_you_mean(str(entry.value), RAY_STORAGES),
    )
    return "shared"


def _store(ctx: Context, entry: Entry | None) -> StoreConfig:
    ymap = ctx.mapping(entry.value, entry.value_loc, "store") if entry else None
    if ymap is None:
        return StoreConfig()
    ctx.keys(ymap, "store", STORE_KEYS)
    share, size = ymap.entries.get("share"), ymap.entries.get("max_size")
    default = StoreConfig()
    return StoreConfig(
        _share_mode(ctx, share) if share else default.share,
        _max_size(ctx, size) if size else default.max_size,
    )


def _share_mode(ctx: Context, entry: Entry) -> ShareMode:
    value = entry.value
    # YAML 1.1 reads a bare `on`/`off` as a boolean: take it as meant.
    text = ("on" if value else "off") if isinstance(value, bool) else value
    for mode in SHARE_MODES:
        if text == mode:
            return mode
    ctx.report(
        entry.value_loc,
        f"store.share must be one of {', '.join(SHARE_MODES)}, got {_shown(value)}",
        "store.share",
        did_you_mean(str(value), SHARE_MODES),
    )
    return StoreConfig().share


def _max_size(ctx: Context, entry: Entry) -> int:
    value = entry.value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        size = parse_memory(value)
        if size is not None:
            return size
    ctx.report(
        entry.value_loc,
        f'store.max_size must be bytes or a size such as "1GB", got {_shown(value)}',
        "store.max_size",
    )
    return StoreConfig().max_size


def _shown(value: YNode) -> str:
    return repr(value) if isinstance(value, str) else describe(value)
