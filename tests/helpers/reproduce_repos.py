"""A stdlib-only repo and a workspace over it, for ``reproduce`` tests (envs build in ~1 s)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.workspaces import (
    IGNORE_BUILD_LEFTOVERS,
    make_repo,
    pyproject_toml,
    write_files,
    write_manifest,
)

TOY_FILES = {
    ".gitignore": IGNORE_BUILD_LEFTOVERS,
    "pkg/pyproject.toml": pyproject_toml("toy"),
    "pkg/toy/__init__.py": "",
    "pkg/toy/steps.py": """
        import json
        import random
        from pathlib import Path


        def make(data: Path, out: Path, scale: float) -> dict:
            n = len(data.read_text().split()) * scale
            out.write_text(json.dumps({"n": n}))
            return {"n": n}


        def score(inp: Path, bonus: float, noise: float = 0.0) -> dict:
            n = json.loads(inp.read_text())["n"]
            # noise > 0 makes the step nondeterministic: the drift test's lever
            return {"score": n + bonus + noise * random.random(), "half": n / 2}
    """,
}

MANIFEST = """
    version: 1
    name: toy
    {mlflow}
    paths:
      data: data
      out: outputs
    params:
      scale: 2.0
    repos:
      toy:
        url: {url}
        rev: {rev}
        subdir: pkg
    steps:
      make:
        fn: toy:toy.steps.make
        params: {{scale: !param scale}}
        deps: {{data: !path data/words.txt}}
        outs: {{out: !path out/made.json}}
      score:
        fn: toy:toy.steps.score
        params: {{bonus: 1.5, noise: 0.0}}
        deps: {{inp: !out make.out}}
"""


def make_toy_repo(path: Path) -> Path:
    return make_repo(path, TOY_FILES)


def make_toy_workspace(
    folder: Path, *, url: str, rev: str = "main", tracking_uri: str | None = None
) -> Path:
    """A workspace in ``folder`` over the toy repo at ``url``; returns the manifest path."""
    write_files(folder, {"data/words.txt": "a b c\n"})
    mlflow = f"mlflow: {{tracking_uri: '{tracking_uri}'}}" if tracking_uri else ""
    return write_manifest(folder, MANIFEST.format(url=url, rev=rev, mlflow=mlflow))
