"""``load_manifest``: read, check and build a :class:`Manifest`, reporting every problem.

The order of checks follows the manifest's own logic: the YAML itself, then
``version`` (a version this code does not know stops here), then structure
(kinds, keys, names, syntax), then meaning (references, outputs, cycles), then
the local overlay. All problems are raised at once in one ``ManifestError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from mlrecipes.core.errors import ManifestError, Problem, UserError
from mlrecipes.core.manifest._build import build
from mlrecipes.core.manifest._context import Context
from mlrecipes.core.manifest._frozen import FrozenMap
from mlrecipes.core.manifest._local import local_path, read_local
from mlrecipes.core.manifest._yaml import Broken, parse_yaml
from mlrecipes.core.manifest.model import Manifest
from mlrecipes.core.manifest.validate import validate
from mlrecipes.core.suggest import did_you_mean


def load_manifest(path: Path | str, *, local: bool = True) -> Manifest:
    """Load and validate ``workspace.yaml``; raise :class:`ManifestError` listing every problem.

    With ``local`` (the default), a ``workspace.local.yaml`` next to the manifest,
    when present, sets :attr:`Manifest.dev_paths` (developer working copies).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        hint = "run from the workspace folder or point to the manifest"
        problem = Problem(file, 1, 1, f"cannot read the manifest: {why}", hint=hint)
        raise ManifestError([problem]) from None
    tree, problems = parse_yaml(text, file)
    if isinstance(tree, Broken):  # the YAML itself is unreadable: nothing more to check
        raise ManifestError(problems)
    ctx = Context(file, problems)
    draft = build(ctx, tree, file.resolve())
    if draft is None:
        raise ManifestError(ctx.problems)
    problems = [*ctx.problems, *validate(draft, file)]
    manifest = draft.manifest
    overlay = local_path(file)
    if local and overlay.is_file():
        dev, local_problems = read_local(overlay, manifest.root, draft.declared_repos)
        problems += local_problems
        manifest = dataclasses.replace(manifest, dev_paths=FrozenMap(dev))
    if problems:
        raise ManifestError(problems)
    return manifest


def with_dev_paths(manifest: Manifest, dev: Mapping[str, Path | str]) -> Manifest:
    """A copy whose ``dev_paths`` also hold ``dev`` (``--dev REPO=PATH``; paths relative to cwd)."""
    paths = dict(manifest.dev_paths)
    for name, folder in dev.items():
        if name not in manifest.repos:
            raise UserError(
                f"--dev names unknown repo {name!r}", hint=did_you_mean(name, manifest.repos)
            )
        resolved = Path(folder).expanduser().resolve()
        if not resolved.is_dir():
            raise UserError(f"dev folder for repo {name!r} does not exist: {resolved}")
        paths[name] = resolved
    return dataclasses.replace(manifest, dev_paths=FrozenMap(paths))
