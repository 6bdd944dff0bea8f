"""``cache: {code: files | tree}`` of a step or a repo: how a step's code is identified.

``files`` (the default): the files of the checkouts the step read last time
(recorded while it ran) stand in for the repo's tree when it changed
(:mod:`mlrecipes.core.codedeps`). ``tree``: any commit to the repo's folder
reruns it, for code that reads files the runner cannot observe.
"""

from __future__ import annotations

from typing import get_args

from mlrecipes.core.manifest._context import Context
from mlrecipes.core.manifest._yaml import Entry
from mlrecipes.core.manifest.model import CodeRule

CACHE_KEYS = ("code",)
CODE_RULES: tuple[str, ...] = get_args(CodeRule)


def build_cache(ctx: Context, entry: Entry | None, key_path: str) -> CodeRule | None:
    """The ``code`` rule of a ``cache`` mapping (None: not set here)."""
    if entry is None:
        return None
    ymap = ctx.mapping(entry.value, entry.value_loc, key_path)
    if ymap is None:
        return None
    ctx.keys(ymap, key_path, CACHE_KEYS)
    item = ymap.entries.get("code")
    if item is None:
        return None
    hint = "files: what the step read (default); tree: any commit to its repo reruns it"
    text = ctx.text(item, f"{key_path}.code", hint)
    if text is None:
        return None
    if text not in CODE_RULES:
        ctx.report(item.value_loc, f"cache.code must be files or tree, got {text!r}",
                   f"{key_path}.code", hint)  # fmt: skip
        return None
    return "files" if text == "files" else "tree"
