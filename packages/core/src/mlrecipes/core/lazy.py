"""Package attributes imported on first use (PEP 562).

``mlrecipes.core`` and ``mlrecipes.core.manifest`` name their public API in
``__all__`` but import a name's module only when it is first read, so Tab
completion and a no-op ``run`` load one module of a package, not all of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, sources: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``.

    ``sources`` maps each public name to the module that defines it; any other
    name is tried as a submodule (``mlrecipes.core.run``). A value read once is
    kept in ``namespace`` (the package's ``globals()``), so it is looked up once.
    """

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:  # a submodule not imported yet
            qualified = f"{package}.{name}"
            try:
                return importlib.import_module(qualified)
            except ModuleNotFoundError as exc:
                if exc.name != qualified:
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
