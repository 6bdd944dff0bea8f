"""Frozen, typed model of ``workspace.yaml``.

This module does no I/O: :func:`mlrecipes.core.manifest.load_manifest` builds
these objects from YAML. Tag values (``!path``, ``!out``, ``!param``, ``!env``,
``!secret``) become the ``*Ref`` classes below, never strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal, TypeAlias

from mlrecipes.core.manifest._frozen import FrozenMap

SUPPORTED_VERSIONS = (1,)


@dataclass(frozen=True)
class Location:
    """Where a node starts in a manifest (1-based line and column)."""

    file: Path
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class PathRef:
    """``!path root/rel``: a file or folder under a named root of ``paths``."""

    root: str
    rel: str
    loc: Location | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.root}/{self.rel}" if self.rel else self.root


@dataclass(frozen=True)
class OutRef:
    """``!out step.name``: output ``name`` of step ``step`` (an edge of the DAG)."""

    step: str
    name: str
    loc: Location | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.step}.{self.name}"


@dataclass(frozen=True)
class ParamRef:
    """``!param name``: a global parameter."""

    name: str
    loc: Location | None = field(default=None, compare=False, repr=False)


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-?([^}]*))?\}")
PLACEHOLDER = _PLACEHOLDER
"""``${NAME}`` or ``${NAME:default}`` in an ``!env`` template: group 1 the name, 2 the default."""


@dataclass(frozen=True)
class EnvRef:
    """``!env NAME``, ``!env NAME:default`` or ``!env "text ${NAME} text"``.

    Read at run time and expanded in memory only: what is persisted (lock,
    MLflow, logs) is ``template``, never the expanded value.
    """

    template: str
    loc: Location | None = field(default=None, compare=False, repr=False)

    @property
    def is_template(self) -> bool:
        return "${" in self.template

    def names(self) -> tuple[str, ...]:
        """The environment variables this reference reads."""
        if self.is_template:
            return tuple(m.group(1) for m in _PLACEHOLDER.finditer(self.template))
        return (self.template.split(":", 1)[0],)

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        """Expand the reference; raises ``KeyError`` naming a variable that is unset."""
        env = os.environ if environ is None else environ
        if self.is_template:

            def sub(match: re.Match[str]) -> str:
                name, default = match.group(1), match.group(2)
                if name in env:
                    return env[name]
                if default is not None:
                    return default
                raise KeyError(name)

            return _PLACEHOLDER.sub(sub, self.template)
        name, sep, default = self.template.partition(":")
        if name in env:
            return env[name]
        if sep:
            return default
        raise KeyError(name)


@dataclass(frozen=True)
class SecretRef:
    """``!secret text``: a plain parameter value that is masked wherever it is shown.

    The step receives ``text``; logs, MLflow, the store and ``--dry-run`` see
    ``<secret>`` (see :func:`mlrecipes.core.manifest.public_params`).
    """

    text: str = field(repr=False)
    loc: Location | None = field(default=None, compare=False, repr=False)


Scalar: TypeAlias = str | int | float | bool | None
Value: TypeAlias = (
    Scalar
    | PathRef
    | OutRef
    | ParamRef
    | EnvRef
    | SecretRef
    | tuple["Value", ...]
    | Mapping[str, "Value"]
)
"""A parameter value: YAML scalars, tag references, and (frozen) lists and mappings."""


@dataclass(frozen=True)
class FnRef:
    """``repo:module.func``."""

    repo: str
    module: str
    func: str

    def __str__(self) -> str:
        return f"{self.repo}:{self.module}.{self.func}"


@dataclass(frozen=True)
class StoreOut:
    """An output that lives only in the store, at ``rel`` inside the step's entry."""

    rel: str
    loc: Location | None = field(default=None, compare=False, repr=False)


Dep: TypeAlias = PathRef | OutRef
Out: TypeAlias = PathRef | StoreOut


@dataclass(frozen=True)
class Resources:
    """Per-step resources for executors that schedule them (Ray)."""

    cpus: float | None = None
    gpus: float | None = None
    memory: int | None = None  # bytes
    custom: Mapping[str, float] = field(default_factory=FrozenMap)
    """Ray custom resources (``ray start --resources``), e.g. ``{sandbox: 1}``."""


CodeRule: TypeAlias = Literal["files", "tree"]
"""How a step's code is identified (``cache: {code: ...}``; see manifest/_cache.py)."""


@dataclass(frozen=True)
class StepSpec:
    name: str
    fn: FnRef
    params: Mapping[str, Value]
    deps: Mapping[str, Dep]
    outs: Mapping[str, Out]
    resources: Resources = field(default_factory=Resources)
    loc: Location | None = field(default=None, compare=False, repr=False)
    code: CodeRule | None = None
    """``cache.code`` of the step (None: its repo's, else ``files``)."""

    def upstream(self) -> tuple[str, ...]:
        """Names of the steps whose outputs this step reads, sorted."""
        return tuple(sorted({d.step for d in self.deps.values() if isinstance(d, OutRef)}))


@dataclass(frozen=True)
class RepoSpec:
    name: str
    url: str | EnvRef
    rev: str
    subdir: str | None = None
    python: str | None = None
    loc: Location | None = field(default=None, compare=False, repr=False)
    uses: tuple[str, ...] = ()
    """Repos whose locked checkouts are installed into this repo's environment."""
    uses_locs: tuple[Location, ...] = field(default=(), compare=False, repr=False)
    """Where each name of ``uses`` is written (for validation messages)."""
    code: CodeRule | None = None
    """``cache.code`` for the steps of this repo (None: ``files``)."""

    @property
    def url_template(self) -> str:
        """The URL as written (an ``!env`` template stays a template)."""
        return self.url.template if isinstance(self.url, EnvRef) else self.url


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str | EnvRef | None = None
    experiment: str | None = None


RayStorage: TypeAlias = Literal["shared", "store"]
RAY_STORAGES: tuple[RayStorage, ...] = ("shared", "store")


@dataclass(frozen=True)
class ExecutorConfig:
    """``executor:``. ``storage`` says how Ray nodes get code and data: ``shared`` (every
    node mounts the workspace folder) or ``store`` (through the team store, by key)."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = None
    storage: RayStorage = "shared"
    storage_loc: Location | None = field(default=None, compare=False, repr=False)


ShareMode: TypeAlias = Literal["auto", "on", "off"]
SHARE_MODES: tuple[ShareMode, ...] = ("auto", "on", "off")
DEFAULT_SHARE_MAX_SIZE = 10**9  # 1 GB of outputs per step


@dataclass(frozen=True)
class StoreConfig:
    """``store:``: the team store (step outputs shared through MLflow's artifacts).

    ``share`` is ``auto`` (on when the tracking URI is an ``http(s)`` server),
    ``on`` (any artifact location MLflow can write) or ``off``; a step whose
    outputs exceed ``max_size`` bytes is not uploaded.
    """

    share: ShareMode = "auto"
    max_size: int = DEFAULT_SHARE_MAX_SIZE


@dataclass(frozen=True)
class Manifest:
    """A validated ``workspace.yaml``."""

    path: Path
    version: int
    name: str
    mlflow: MlflowConfig
    paths: Mapping[str, str]
    params: Mapping[str, Value]
    repos: Mapping[str, RepoSpec]
    steps: Mapping[str, StepSpec]
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    dev_paths: Mapping[str, Path] = field(default_factory=FrozenMap)
    """Local working copies standing in for repos (``workspace.local.yaml``), absolute."""

    @property
    def root(self) -> Path:
        """The folder the manifest lives in; relative paths start here."""
        return self.path.parent

    @property
    def experiment(self) -> str:
        return self.mlflow.experiment or self.name

    def code_rule(self, step: str) -> CodeRule:
        """How ``step``'s code is identified: its ``cache.code``, its repo's, or ``files``."""
        spec = self.steps[step]
        repo = self.repos.get(spec.fn.repo)
        return spec.code or (repo.code if repo is not None else None) or "files"

    def code_repos(self, repo: str) -> tuple[str, ...]:
        """``repo`` and every repo it uses, transitively: all the code its steps can import.

        Ordered: the repo first, then its ``uses`` depth first as written, each once.
        """
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order or name not in self.repos:
                return
            order.append(name)
            for used in self.repos[name].uses:
                visit(used)

        visit(repo)
        return tuple(order)

    def resolve_path(self, ref: PathRef) -> Path:
        """The absolute path of a ``!path`` (validation guarantees it stays in its root)."""
        base = self.root / self.paths[ref.root]
        return base / PurePosixPath(ref.rel) if ref.rel else base
