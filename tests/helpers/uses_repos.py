"""Repos for the ``uses:`` tests: a packaged library, an unpackaged one, an app using both."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.workspaces import (
    counted_step,
    make_counter_workspace,
    make_repo,
    pyproject_toml,
)

# A library with packaging metadata; its own dependency (six) must come with it.
LIB_FILES = {
    "pyproject.toml": pyproject_toml("gradlib", "six==1.16.0", wheel=True, requires_python=None),
    "gradlib/__init__.py": "VALUE = 1\n",
}


def plainlib(factor: int) -> str:
    """A library that was never packaged: a bare module at the repo root."""
    return f"""
        from pathlib import Path

        FACTOR = {factor}


        def solo(out: Path, counter: str = "") -> dict:
            with open(counter, "a") as fh:
                fh.write("solo\\n")
            out.write_text(str(FACTOR))
            return {{"factor": FACTOR}}
    """


PLAIN_FILES = {"plainlib.py": plainlib(2)}
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


def make_uses_workspace(
    root: Path, *, app_files: dict[str, str] | None = None, lib_exists: bool = False
) -> Path:
    """lib (packaged), plain (no packaging) and app (uses both); the manifest's path."""
    if not lib_exists:
        make_repo(root / "upstream" / "lib", LIB_FILES)
    make_repo(root / "upstream" / "plain", PLAIN_FILES)
    make_repo(root / "upstream" / "app", {**APP_FILES, **(app_files or {})})
    repos = {"lib": "", "plain": "", "app": "uses: [lib, plain]"}
    steps = counted_step("combo", "app:app.steps.combo", "value.txt") + counted_step(
        "solo", "plain:plainlib.solo", "factor.txt"
    )
    return make_counter_workspace(root, repos, steps)


# A uv workspace: member `tok` depends on its sibling member `shared`; `docs/` is unrelated.
MONO_FILES = {
    "pyproject.toml": """
        [tool.uv.workspace]
        members = ["packages/*"]
    """,
    "packages/shared/pyproject.toml": pyproject_toml("shared", wheel=True, requires_python=None),
    "packages/shared/shared/__init__.py": "BASE = 1\n",
    "packages/tok/pyproject.toml": pyproject_toml("tok", "shared", wheel=True, requires_python=None)
    + "\n[tool.uv.sources]\nshared = { workspace = true }\n",
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
    repos = {"mono": "subdir: packages/tok"}
    steps = counted_step("tokenize", "mono:tok.run.tokenize", "base.txt")
    return make_counter_workspace(root, repos, steps)


# `trainer` installs its sibling checkout `-e ../gradlib` (a path install, no `uses:`);
# `data` is a repo of its own, so `run fit` syncs a subset of the workspace.
def make_path_install_workspace(root: Path) -> Path:
    """gradlib (packaged), data and trainer (``-e ../gradlib``); the manifest's path."""
    make_repo(root / "upstream" / "gradlib", LIB_FILES)
    make_repo(root / "upstream" / "data", PLAIN_FILES)
    trainer = {**APP_FILES, "requirements.txt": "-e ../gradlib\n", **PLAIN_FILES}
    make_repo(root / "upstream" / "trainer", trainer)
    repos = {"gradlib": "", "data": "", "trainer": ""}
    steps = counted_step("prep", "data:plainlib.solo", "factor.txt") + counted_step(
        "fit", "trainer:app.steps.combo", "value.txt"
    )
    return make_counter_workspace(root, repos, steps)
