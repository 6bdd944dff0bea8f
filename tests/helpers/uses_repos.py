"""Repos for the ``uses:`` tests: a packaged library, an unpackaged one, an app using both."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.helpers.workspaces import BLANK_DB, make_repo, write_manifest

# A library with packaging metadata; its own dependency (six) must come with it.
LIB_FILES = {
    "pyproject.toml": """
        [project]
        name = "gradlib"
        version = "0.1.0"
        dependencies = ["six==1.16.0"]

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["gradlib"]
    """,
    "gradlib/__init__.py": "VALUE = 1\n",
}
# A library that was never packaged: a bare module at the repo root.
PLAIN_FILES = {
    "plainlib.py": """
        from pathlib import Path

        FACTOR = 2


        def solo(out: Path, counter: str = "") -> dict:
            with open(counter, "a") as fh:
                fh.write("solo\\n")
            out.write_text(str(FACTOR))
            return {"factor": FACTOR}
    """,
}
APP_FILES = {
    "requirements.txt": "\n",
    "app/__init__.py": "",
    "app/steps.py": """
        from pathlib import Path


        def combo(out: Path, counter: str = "") -> dict:
            import gradlib
            import plainlib
            import six

            with open(counter, "a") as fh:
                fh.write("combo\\n")
            value = gradlib.VALUE * plainlib.FACTOR
            out.write_text(str(value))
            return {"value": value, "six": float(six.__version__[:4])}
    """,
}
MANIFEST = """
    version: 1
    name: e2e
    params:
      counter: {counter}
    repos:
      lib: {{url: ../upstream/lib, rev: main}}
      plain: {{url: ../upstream/plain, rev: main}}
      app:
        url: ../upstream/app
        rev: main
        uses: [lib, plain]
    steps:
      combo:
        fn: app:app.steps.combo
        params: {{counter: !param counter}}
        outs: {{out: value.txt}}
      solo:
        fn: plain:plainlib.solo
        params: {{counter: !param counter}}
        outs: {{out: factor.txt}}
"""


def seed_db(ws: Path) -> None:
    import shutil

    if BLANK_DB:
        (ws / ".mlrecipes").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BLANK_DB[0], ws / ".mlrecipes" / "mlflow.db")


def make_uses_workspace(
    root: Path, *, app_files: dict[str, str] | None = None, lib_exists: bool = False
) -> Path:
    """lib (packaged), plain (no packaging) and app (uses both); the manifest's path."""
    if not lib_exists:
        make_repo(root / "upstream" / "lib", LIB_FILES)
    make_repo(root / "upstream" / "plain", PLAIN_FILES)
    make_repo(root / "upstream" / "app", {**APP_FILES, **(app_files or {})})
    ws = root / "ws"
    ws.mkdir()
    seed_db(ws)
    text = MANIFEST.format(counter=str(ws / "counter.log"))
    return write_manifest(ws, textwrap.dedent(text))


def _member(name: str, deps: str = "", sources: str = "") -> str:
    return f"""
        [project]
        name = "{name}"
        version = "0.1.0"
        dependencies = [{deps}]

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["{name}"]
        {sources}
    """


# A uv workspace: member `tok` depends on its sibling member `shared`; `docs/` is unrelated.
MONO_FILES = {
    "pyproject.toml": """
        [tool.uv.workspace]
        members = ["packages/*"]
    """,
    "packages/shared/pyproject.toml": _member("shared"),
    "packages/shared/shared/__init__.py": "BASE = 1\n",
    "packages/tok/pyproject.toml": _member(
        "tok", '"shared"', "\n[tool.uv.sources]\nshared = { workspace = true }\n"
    ),
    "packages/tok/tok/__init__.py": "",
    "packages/tok/tok/run.py": """
        from pathlib import Path

        import shared


        def tokenize(out: Path, counter: str = "") -> dict:
            with open(counter, "a") as fh:
                fh.write("tokenize\\n")
            out.write_text(str(shared.BASE))
            return {"base": shared.BASE}
    """,
    "docs/index.md": "# docs\n",
}
MONO_MANIFEST = """
    version: 1
    name: e2e
    params:
      counter: {counter}
    repos:
      mono: {{url: ../upstream/mono, rev: main, subdir: packages/tok}}
    steps:
      tokenize:
        fn: mono:tok.run.tokenize
        params: {{counter: !param counter}}
        outs: {{out: base.txt}}
"""


def make_mono_workspace(root: Path) -> Path:
    """A uv workspace monorepo (locked with the real uv) and a manifest using one member."""
    import subprocess

    from tests.helpers.workspaces import commit, git, write_files

    from mlrecipes.core.envs import find_uv

    mono = root / "upstream" / "mono"
    mono.mkdir(parents=True)
    git(mono, "init", "-q", "-b", "main")
    write_files(mono, MONO_FILES)
    subprocess.run([find_uv(), "lock", "--offline", "-q"], cwd=mono, check=True)
    commit(mono, {}, "initial")
    ws = root / "ws"
    ws.mkdir()
    seed_db(ws)
    return write_manifest(ws, textwrap.dedent(MONO_MANIFEST.format(counter=ws / "counter.log")))


# `trainer` installs its sibling checkout `-e ../gradlib` (a path install, no `uses:`);
# `data` is a repo of its own, so `run fit` syncs a subset of the workspace.
PATH_INSTALL_MANIFEST = """
    version: 1
    name: e2e
    params:
      counter: {counter}
    repos:
      gradlib: {{url: ../upstream/gradlib, rev: main}}
      data: {{url: ../upstream/data, rev: main}}
      trainer: {{url: ../upstream/trainer, rev: main}}
    steps:
      prep:
        fn: data:plainlib.solo
        params: {{counter: !param counter}}
        outs: {{out: factor.txt}}
      fit:
        fn: trainer:app.steps.combo
        params: {{counter: !param counter}}
        outs: {{out: value.txt}}
"""


def make_path_install_workspace(root: Path) -> Path:
    """gradlib (packaged), data and trainer (``-e ../gradlib``); the manifest's path."""
    make_repo(root / "upstream" / "gradlib", LIB_FILES)
    make_repo(root / "upstream" / "data", PLAIN_FILES)
    trainer = {**APP_FILES, "requirements.txt": "-e ../gradlib\n", **PLAIN_FILES}
    make_repo(root / "upstream" / "trainer", trainer)
    ws = root / "ws"
    ws.mkdir()
    seed_db(ws)
    text = PATH_INSTALL_MANIFEST.format(counter=str(ws / "counter.log"))
    return write_manifest(ws, textwrap.dedent(text))
