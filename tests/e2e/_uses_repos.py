"""Repos for the ``uses:`` tests: a packaged library, an unpackaged one, an app using both."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.e2e.workspaces import BLANK_DB, make_repo, write_manifest

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


def make_uses_workspace(root: Path, *, app_files: dict[str, str] | None = None) -> Path:
    """lib (packaged), plain (no packaging) and app (uses both); the manifest's path."""
    make_repo(root / "upstream" / "lib", LIB_FILES)
    make_repo(root / "upstream" / "plain", PLAIN_FILES)
    make_repo(root / "upstream" / "app", {**APP_FILES, **(app_files or {})})
    ws = root / "ws"
    ws.mkdir()
    seed_db(ws)
    text = MANIFEST.format(counter=str(ws / "counter.log"))
    return write_manifest(ws, textwrap.dedent(text))
