"""The layering of ARCHITECTURE.md, checked by scanning every import of the three packages.

* ``git_sources`` imports nothing of ``core`` or ``cli``; ``core`` nothing of ``cli``.
* In ``core``, a layer imports only itself and the layers below it (imports
  under ``if TYPE_CHECKING:`` are annotations, not dependencies).
* No module imports a private module (``_name``) of another package.
* At run time, the walk from the CLI's ``run`` down to a step's execution enters
  each layer once (cli, workspace, sync, plan, run, executors) and never calls
  back up into a higher layer, except the CLI's own event handler.
"""

from __future__ import annotations

import ast
import os
import sys
import threading
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.workspaces import make_repo, write_files, write_manifest

PACKAGES = Path(__file__).parents[1] / "packages"
SOURCES = {
    "mlrecipes.git_sources": PACKAGES / "git-sources" / "src",
    "mlrecipes.core": PACKAGES / "core" / "src",
    "mlrecipes.cli": PACKAGES / "cli" / "src",
}
# core's layers, bottom first (ARCHITECTURE.md draws the same list).
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "errors suggest events paths fingerprint codedeps install view atomic lazy toposort",
        "manifest",
        "envs",
        "sync",
        "executors",
        "tracking",
        "store",
        "plan",
        "team_store",
        "run",
        "tune",
        "workspace",
        "reproduce",
    )
)


def _modules() -> Iterator[tuple[str, Path]]:
    for package, src in SOURCES.items():
        for path in sorted((src / package.replace(".", "/")).rglob("*.py")):
            parts = path.relative_to(src).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every ``mlrecipes`` module (or ``module.name``) that ``module`` imports at run time."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            yield from (f"{base}.{alias.name}" for alias in node.names)
        todo.extend(ast.iter_child_nodes(node))


def _layer(module: str) -> int | None:
    """The index of ``module``'s core layer; None for the package itself (the facade)."""
    parts = module.split(".")
    if parts[:2] != ["mlrecipes", "core"] or len(parts) < 3:
        return None
    return next(i for i, names in enumerate(LAYERS) if parts[2] in names)


ALL = list(_modules())


def test_every_core_module_has_a_layer() -> None:
    for module, _ in ALL:
        if module.startswith("mlrecipes.core."):
            assert _layer(module) is not None, f"{module}: add its folder to LAYERS"


@pytest.mark.parametrize(
    ("below", "above"),
    [("mlrecipes.git_sources", "mlrecipes.core"), ("mlrecipes.core", "mlrecipes.cli")],
)
def test_lower_packages_never_import_higher_ones(below: str, above: str) -> None:
    wrong = [
        f"{module} imports {target}"
        for module, path in ALL
        if module.startswith(below)
        for target in _imports(module, path)
        if target.startswith(above)
        or (below == "mlrecipes.git_sources" and target.startswith("mlrecipes.cli"))
    ]
    assert wrong == []


def test_core_layers_import_only_downwards() -> None:
    wrong = []
    for module, path in ALL:
        here = _layer(module)
        if here is None:
            continue
        for target in _imports(module, path):
            there = _layer(target)
            if there is not None and there > here:
                wrong.append(f"{module} (layer {here}) imports {target} (layer {there})")
    assert wrong == []


def _owner_of_private(target: str) -> str | None:
    """The package whose private module or name ``target`` is, or None when it is public."""
    parts = target.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def test_no_private_module_is_imported_across_packages() -> None:
    wrong = []
    for module, path in ALL:
        for target in _imports(module, path):
            owner = _owner_of_private(target)
            if owner is None or not owner.startswith("mlrecipes"):
                continue
            if module != owner and not module.startswith(owner + "."):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_the_scan_sees_what_it_checks() -> None:
    """A scan that found nothing would pass everything."""
    imports = {t for m, p in ALL if m == "mlrecipes.core.run.pipeline" for t in _imports(m, p)}
    assert "mlrecipes.core.plan.planner.make_plan" in imports
    assert _owner_of_private("mlrecipes.core.tracking._client.redact") == "mlrecipes.core.tracking"
    assert _layer("mlrecipes.core.run.pipeline") == 9 and _layer("mlrecipes.core.errors") == 0


# The walk of `mlrecipes run` (ARCHITECTURE.md): each layer is entered from the one above.
# Only these layers are traced: lower ones hold the values passed down the walk (a
# manifest, paths, events) whose methods any layer calls.
WALK = ("cli", "workspace", "sync", "plan", "run", "executors")
CLI = len(LAYERS)  # above every core layer


def _rank(module: str) -> tuple[str, int] | None:
    """``module``'s layer as (name, rank) when it is on the walk; the CLI ranks highest."""
    if module == "mlrecipes.cli" or module.startswith("mlrecipes.cli."):
        return "cli", CLI
    rank = _layer(module)
    name = module.split(".")[2] if rank is not None else ""
    return (name, rank) if rank is not None and name in WALK else None


def _walk(frame: FrameType | None) -> tuple[tuple[str, int], ...] | None:
    """The layers on the stack, outermost first, each run of frames once; None at import."""
    layers: list[tuple[str, int]] = []
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        found = _rank(module)
        if found is not None:
            if frame.f_code.co_name == "<module>":
                return None  # a module being imported, not the walk
            if not layers or layers[-1] != found:
                layers.append(found)
        frame = frame.f_back
    return tuple(reversed(layers))


def _goes_up(walk: tuple[tuple[str, int], ...]) -> bool:
    """True when a layer calls one above it; a call back into the CLI (its event handler)
    starts a new walk."""
    return any(above[1] >= below[1] and above[0] != "cli" for below, above in pairwise(walk))


def _trace_run(workspace: Path) -> tuple[list[tuple[tuple[str, int], ...]], Any]:
    """Every distinct layer walk seen while the CLI's `run` runs in this thread, in order."""
    from typer.testing import CliRunner

    from mlrecipes.cli.main import app

    seen: dict[tuple[tuple[str, int], ...], None] = {}
    main = threading.get_ident()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and threading.get_ident() == main:
            walk = _walk(frame)
            if walk:
                seen.setdefault(walk)

    cwd = Path.cwd()
    os.chdir(workspace)
    sys.setprofile(profile)
    try:
        result = CliRunner().invoke(app, ["run"])
    finally:
        sys.setprofile(None)
        os.chdir(cwd)
    return list(seen), result


@pytest.mark.slow
def test_the_walk_from_run_to_a_step_enters_each_layer_once(
    tmp_path: Path, blank_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path / "up" / "a", {"moda.py": "def f(out):\n    out.write_text('1')\n"})
    write_files(tmp_path / "ws", {".gitignore": ".mlrecipes/\n"})
    manifest = write_manifest(
        tmp_path / "ws",
        """
        version: 1
        name: walk
        repos:
          a: {url: ../up/a, rev: main}
        steps:
          first: {fn: "a:moda.f", outs: {out: o.txt}}
        """,
    )
    seed_mlflow_db(blank_mlflow_db, manifest.parent)
    for name in [k for k in os.environ if k.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)
    walks, result = _trace_run(manifest.parent)
    assert result.exit_code == 0, result.output
    assert "first" in result.output and "ok" in result.output

    names = [tuple(name for name, _ in walk) for walk in walks]
    assert [" > ".join(n) for n, w in zip(names, walks, strict=True) if _goes_up(w)] == []
    # in order: the workspace syncs, then the run layer plans, then an executor runs the step
    order = [
        ("cli", "workspace", "sync"),
        ("cli", "workspace", "run", "plan"),
        ("cli", "workspace", "run", "executors"),
    ]
    assert all(walk in names for walk in order), names
    assert [names.index(walk) for walk in order] == sorted(names.index(walk) for walk in order)
    # the step reaches its executor through each layer once
    to_executor = [n for n in names if "executors" in n and n[0] == "cli" and "workspace" in n]
    assert to_executor == [("cli", "workspace", "run", "executors")]


def test_the_walk_check_sees_a_call_back_up() -> None:
    down = (("cli", CLI), ("workspace", 11), ("run", 9), ("executors", 4))
    assert not _goes_up(down)
    assert not _goes_up((*down, ("cli", CLI)))  # the CLI's event handler
    assert _goes_up((*down, ("run", 9)))
    assert _goes_up((("cli", CLI), ("run", 9), ("workspace", 11)))
