"""The meaning pass: references, overlapping outputs and cycles across the manifest.

Runs after the structural pass (:mod:`._build`) on its draft, so every problem
of a manifest is reported at once. Names that were declared but had problems of
their own are known here, so a broken step is not reported again by each
``!out`` that names it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlrecipes.core.errors import Problem
from mlrecipes.core.manifest._build import Draft
from mlrecipes.core.manifest._steps import BROKEN_FN
from mlrecipes.core.manifest.model import (
    EnvRef,
    Location,
    Manifest,
    OutRef,
    ParamRef,
    PathRef,
    StepSpec,
    Value,
)
from mlrecipes.core.suggest import did_you_mean


@dataclass
class _Checker:
    draft: Draft
    file: Path
    problems: list[Problem]

    @property
    def manifest(self) -> Manifest:
        return self.draft.manifest

    def report(self, loc: Location | None, message: str, key_path: str, hint: str | None) -> None:
        where = loc or Location(self.file, 1, 1)
        self.problems.append(Problem(self.file, where.line, where.col, message, key_path, hint))


def validate(draft: Draft, file: Path) -> list[Problem]:
    """Every meaning problem of a draft manifest."""
    checker = _Checker(draft, file, [])
    for step in draft.manifest.steps.values():
        _check_fn(checker, step)
        _check_params(checker, step)
        _check_deps(checker, step)
        _check_out_roots(checker, step)
    _check_overlaps(checker)
    _check_cycles(checker)
    _check_uses(checker)
    _check_storage(checker)
    return checker.problems


TEAM_STORE_HINT = (
    "log to an MLflow server (`mlflow.tracking_uri: https://...`, started with "
    "--serve-artifacts) or set `store.share: on` with an artifact store every node reaches"
)


def store_mode_problem(manifest: Manifest, tracking_uri: str | None) -> str | None:
    """Why ``executor.storage: store`` cannot work here (no team store), or None.

    ``tracking_uri`` None means it is not known yet (an ``!env`` read at run time).
    """
    share = manifest.store.share
    if share == "off":
        return "executor.storage: store moves data through the team store, but store.share is off"
    if share == "auto" and tracking_uri is not None:
        scheme = tracking_uri.partition("://")[0].lower() if "://" in tracking_uri else ""
        if scheme not in ("http", "https"):
            return (
                "executor.storage: store moves data through the team store, and there is "
                "none: the tracking URI is not an MLflow server"
            )
    return None


def _check_storage(checker: _Checker) -> None:
    """``storage: store`` needs a team store (an MLflow server, or ``share: on``)."""
    executor = checker.manifest.executor
    if executor.storage != "store":
        return
    configured = checker.manifest.mlflow.tracking_uri
    uri = None if isinstance(configured, EnvRef) else configured or "sqlite:///"
    problem = store_mode_problem(checker.manifest, uri)
    if problem is not None:
        checker.report(executor.storage_loc, problem, "executor.storage", TEAM_STORE_HINT)


def _check_uses(checker: _Checker) -> None:
    """``uses:`` names known repos, never the repo itself, and makes no cycle."""
    repos = checker.manifest.repos
    declared = checker.draft.declared_repos
    edges: dict[str, list[str]] = {}
    for repo in repos.values():
        for index, (used, loc) in enumerate(zip(repo.uses, repo.uses_locs, strict=True)):
            key_path = f"repos.{repo.name}.uses[{index}]"
            if used == repo.name:
                checker.report(
                    loc,
                    f"repo {repo.name!r} uses itself",
                    key_path,
                    "a repo's own code is always in its environment: remove it from `uses`",
                )
            elif used not in declared:
                checker.report(
                    loc,
                    f"repo {repo.name!r} uses unknown repo {used!r}",
                    key_path,
                    did_you_mean(used, declared),
                )
            elif used in repos:
                edges.setdefault(repo.name, []).append(used)
    # Imported here: graph imports the manifest package, which imports this module.
    from mlrecipes.core.manifest.graph import find_cycles

    for cycle in find_cycles(edges)[:1]:
        user, used = cycle[-2], cycle[-1]
        index = repos[user].uses.index(used)
        checker.report(
            repos[user].uses_locs[index],
            "cycle in `uses`: " + " -> ".join(cycle),
            f"repos.{user}.uses[{index}]",
            "a repo cannot use, even indirectly, a repo that uses it",
        )


def _check_fn(checker: _Checker, step: StepSpec) -> None:
    repos = checker.draft.declared_repos
    if step.fn == BROKEN_FN or step.fn.repo in repos:
        return
    entry = checker.draft.entries[f"steps.{step.name}.fn"]
    checker.report(
        entry.value_loc,
        f"fn {str(step.fn)!r} names unknown repo {step.fn.repo!r}",
        f"steps.{step.name}.fn",
        did_you_mean(step.fn.repo, repos),
    )


def _walk(value: Value, key_path: str) -> Iterator[tuple[Value, str]]:
    yield value, key_path
    if isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{key_path}[{index}]")
    elif (
        not isinstance(value, str | int | float | bool)
        and value is not None
        and hasattr(value, "items")
    ):
        for key, item in value.items():
            yield from _walk(item, f"{key_path}.{key}")


def _check_params(checker: _Checker, step: StepSpec) -> None:
    known = checker.manifest.params
    declared = {*known, *checker.draft.entries_under("params")}
    for name, top in step.params.items():
        for value, key_path in _walk(top, f"steps.{step.name}.params.{name}"):
            if isinstance(value, ParamRef) and value.name not in declared:
                checker.report(
                    value.loc,
                    f"!param {value.name!r} is not a global parameter",
                    key_path,
                    did_you_mean(value.name, known) + " (global parameters are under `params:`)",
                )


def _check_root(checker: _Checker, ref: PathRef, key_path: str) -> None:
    roots = checker.manifest.paths
    if ref.root not in roots and ref.root not in checker.draft.entries_under("paths"):
        checker.report(
            ref.loc,
            f"!path root {ref.root!r} is not declared in `paths`",
            key_path,
            did_you_mean(ref.root, roots),
        )


def _check_deps(checker: _Checker, step: StepSpec) -> None:
    for name, dep in step.deps.items():
        key_path = f"steps.{step.name}.deps.{name}"
        if isinstance(dep, PathRef):
            _check_root(checker, dep, key_path)
        else:
            _check_out_ref(checker, step, dep, key_path)


def _check_out_ref(checker: _Checker, step: StepSpec, ref: OutRef, key_path: str) -> None:
    steps, draft = checker.manifest.steps, checker.draft
    if ref.step == step.name:
        checker.report(
            ref.loc,
            f"step {step.name!r} depends on its own output {ref.name!r}",
            key_path,
            "a step cannot read what it writes: split it into two steps",
        )
    elif ref.step not in draft.declared_steps:
        checker.report(
            ref.loc,
            f"!out {str(ref)!r} names unknown step {ref.step!r}",
            key_path,
            did_you_mean(ref.step, draft.declared_steps),
        )
    elif ref.step in steps:
        outs = draft.entries_under(f"steps.{ref.step}.outs")
        if ref.name not in outs:
            checker.report(
                ref.loc,
                f"step {ref.step!r} has no output {ref.name!r}",
                key_path,
                did_you_mean(ref.name, outs),
            )


def _check_out_roots(checker: _Checker, step: StepSpec) -> None:
    for name, out in step.outs.items():
        if isinstance(out, PathRef):
            _check_root(checker, out, f"steps.{step.name}.outs.{name}")
            _check_root_inside(checker, out, f"steps.{step.name}.outs.{name}")


def _check_root_inside(checker: _Checker, ref: PathRef, key_path: str) -> None:
    """An output's root, links resolved, lies in the workspace (outputs are linked there)."""
    roots = checker.manifest.paths
    if ref.root not in roots:
        return
    workspace = checker.manifest.root.resolve()
    try:
        place = (workspace / roots[ref.root]).resolve()
    except (OSError, RuntimeError):  # a link loop: reported where the output is linked
        return
    if not place.is_relative_to(workspace):
        checker.report(
            ref.loc,
            f"!path root {ref.root!r} of an output resolves to {place}, outside the "
            f"workspace {workspace}",
            key_path,
            "outputs are linked inside the workspace: point the root (or its symlink) there",
        )


@dataclass(frozen=True)
class _Place:
    path: PurePosixPath
    step: str
    key_path: str
    loc: Location | None

    def overlaps(self, other: _Place) -> bool:
        a, b = self.path, other.path
        return a == b or a in b.parents or b in a.parents


def _places(checker: _Checker, section: str) -> list[_Place]:
    roots = checker.manifest.paths
    places = []
    for step in checker.manifest.steps.values():
        refs = step.deps if section == "deps" else step.outs
        for name, ref in refs.items():
            if isinstance(ref, PathRef) and ref.root in roots:
                path = PurePosixPath(posixpath.normpath(f"{roots[ref.root]}/{ref.rel}"))
                key_path = f"steps.{step.name}.{section}.{name}"
                places.append(_Place(path, step.name, key_path, ref.loc))
    return places


def _order(place: _Place) -> tuple[int, int]:
    return (place.loc.line, place.loc.col) if place.loc else (0, 0)


class _PlaceIndex:
    """Outputs by place, to find overlaps in time linear in the number of outputs
    (comparing every pair took 25 s for 5,000 steps)."""

    def __init__(self) -> None:
        self.at: dict[PurePosixPath, list[_Place]] = {}
        self.under: dict[PurePosixPath, list[_Place]] = {}

    def add(self, place: _Place) -> None:
        self.at.setdefault(place.path, []).append(place)
        for parent in place.path.parents:
            self.under.setdefault(parent, []).append(place)

    def overlapping(self, path: PurePosixPath) -> list[_Place]:
        """Every indexed place equal to, above or below ``path``."""
        found = list(self.at.get(path, ()))
        for parent in path.parents:
            found += self.at.get(parent, ())
        return found + self.under.get(path, [])


def _check_overlaps(checker: _Checker) -> None:
    """Two outputs at one place, or a ``!path`` dep on a step's output."""
    outs = sorted(_places(checker, "outs"), key=_order)
    rank = {id(place): index for index, place in enumerate(outs)}
    index = _PlaceIndex()
    for later in outs:
        found = index.overlapping(later.path)
        index.add(later)
        if not found:
            continue
        earlier = min(found, key=lambda place: rank[id(place)])
        same = "the same place as" if later.path == earlier.path else "a place overlapping"
        checker.report(
            later.loc,
            f"output {str(later.path)!r} is {same} {earlier.key_path} ({earlier.path})",
            later.key_path,
            "each output needs its own place: two steps would overwrite each other",
        )
    _check_dep_places(checker, index, rank)


def _check_dep_places(checker: _Checker, index: _PlaceIndex, rank: dict[int, int]) -> None:
    """A ``!path`` dep on a place some step writes, the step itself included."""
    for dep in _places(checker, "deps"):
        found = index.overlapping(dep.path)
        own = [o for o in found if o.step == dep.step]
        writers = [o for o in found if o.step != dep.step]
        if own:  # it would read its previous output on every run: never up to date
            out_name = min(own, key=lambda place: rank[id(place)]).key_path.rsplit(".", 1)[-1]
            checker.report(
                dep.loc,
                f"dep {str(dep.path)!r} is the step's own output {out_name!r}",
                dep.key_path,
                "a step cannot read what it writes: split it into two steps",
            )
        elif writers:
            writer = min(writers, key=lambda place: rank[id(place)])
            out_name = writer.key_path.rsplit(".", 1)[-1]
            checker.report(
                dep.loc,
                f"dep {str(dep.path)!r} is written by step {writer.step!r}",
                dep.key_path,
                f"use !out {writer.step}.{out_name}, so that the step runs after {writer.step!r}",
            )


def _check_cycles(checker: _Checker) -> None:
    # Imported here: graph imports the manifest package, which imports this module.
    from mlrecipes.core.manifest.graph import StepGraph

    steps = checker.manifest.steps
    for cycle in StepGraph(steps).cycles():
        if len(cycle) == 2:  # a step reading its own output: reported by _check_out_ref
            continue
        first, second = cycle[0], cycle[1]
        name, ref = next(
            (n, d)
            for n, d in sorted(steps[second].deps.items())
            if isinstance(d, OutRef) and d.step == first
        )
        checker.report(
            ref.loc,
            "cycle in the steps: " + " -> ".join(cycle),
            f"steps.{second}.deps.{name}",
            "a step cannot depend, even indirectly, on its own outputs",
        )
