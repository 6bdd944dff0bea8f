"""The layering of ARCHITECTURE.md, checked by scanning every import of the three packages.

* ``git_sources`` imports nothing of ``core`` or ``cli``; ``core`` nothing of ``cli``.
* In ``core``, a layer imports only itself and the layers below it (imports
  under ``if TYPE_CHECKING:`` are annotations, not dependencies).
* No module imports a private module (``_name``) of another package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

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
        "errors suggest events paths fingerprint codedeps install view",
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
