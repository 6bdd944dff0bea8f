"""Building real workspaces for end-to-end tests: git repos in temp folders, a manifest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from tests.helpers.mlflow_db import seed_mlflow_db


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def make_repo(path: Path, files: Mapping[str, str]) -> Path:
    """A git repo at ``path`` with ``files`` committed on ``main``."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commit(path, files, "initial")
    return path


def commit(repo: Path, files: Mapping[str, str], message: str = "change") -> str:
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def write_manifest(root: Path, text: str, name: str = "workspace.yaml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


CLI = (sys.executable, "-m", "mlrecipes.cli")  # the command that starts the real CLI


def cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (for signals and exit codes end to end)."""
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# A repo's .gitignore for what building its environment leaves in the checkout: without
# it the checkout looks dirty on the next sync.
IGNORE_BUILD_LEFTOVERS = "*.egg-info/\n__pycache__/\n"


def pyproject_toml(
    name: str, *dependencies: str, wheel: bool = False, requires_python: str | None = ">=3.10"
) -> str:
    """A ``pyproject.toml`` for the project ``name``; ``wheel``: hatchling builds the
    package folder ``name`` (without, uv installs the project as it is)."""
    python = f'requires-python = "{requires_python}"\n' if requires_python else ""
    listed = ", ".join(f'"{d}"' for d in dependencies)
    text = f'[project]\nname = "{name}"\nversion = "0.1.0"\n{python}dependencies = [{listed}]\n'
    if wheel:
        text += (
            '\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
            f'\n[tool.hatch.build.targets.wheel]\npackages = ["{name}"]\n'
        )
    return text


# Two tiny packages whose pins clash: each step reports the version of `six` it sees.
FEATURES_FILES = {
    "requirements.txt": "six==1.16.0\n",
    "feats/__init__.py": "",
    # Stands in for MLflow (the step runner puts the repo first on sys.path): steps
    # of this repo count as able to log themselves, so they get their run id first.
    "mlflow/__init__.py": "",
    "feats/build.py": """
        import os
        from pathlib import Path

        import six


        def make(raw: Path, table: Path, scale: int = 1, counter: str = "") -> dict:
            if counter:
                with open(counter, "a") as fh:
                    fh.write("make\\n")
            rows = [int(x) * scale for x in raw.read_text().split()]
            table.write_text("\\n".join(str(r) for r in rows))
            return {"rows": len(rows), "six": float(six.__version__[:4])}


        def side(raw: Path, note: Path, counter: str = "") -> dict:
            if counter:
                with open(counter, "a") as fh:
                    fh.write("side\\n")
            note.write_text(os.environ.get("MLFLOW_RUN_ID", ""))
            return {"chars": len(raw.read_text())}
    """,
}
MODELS_FILES = {
    "pyproject.toml": pyproject_toml("mods", "six==1.17.0", wheel=True),
    "mods/__init__.py": "",
    "mods/train.py": """
        import json
        import time
        from pathlib import Path

        import six


        def fit(table: Path, model: Path, lr: float = 0.1, counter: str = "",
                fail: bool = False, sleep: float = 0.0) -> dict:
            print(f"fitting with lr={lr}")
            if counter:
                with open(counter, "a") as fh:
                    fh.write("fit\\n")
            if sleep:
                model.write_text("partial")
                time.sleep(sleep)
            if fail:
                raise ValueError("diverged: lr too high")
            total = sum(int(x) for x in table.read_text().split())
            model.write_text(json.dumps({"w": total * lr}))
            return {"loss": total * lr, "six": float(six.__version__[:4])}


        def score(model: Path, report: Path, counter: str = "") -> dict:
            if counter:
                with open(counter, "a") as fh:
                    fh.write("score\\n")
            report.mkdir(parents=True, exist_ok=True)
            (report / "score.txt").write_text(model.read_text())
            return {"score": json.loads(model.read_text())["w"]}
    """,
}

MANIFEST = """
    version: 1
    name: e2e
    paths:
      raw: data
      out: outputs
    params:
      counter: {counter}
    repos:
      features:
        url: {features}
        rev: main
      models:
        url: {models}
        rev: main
    steps:
      make:
        fn: features:feats.build.make
        params: {{scale: 2, counter: !param counter}}
        deps: {{raw: !path raw/numbers.txt}}
        outs: {{table: table.txt}}
      side:
        fn: features:feats.build.side
        params: {{counter: !param counter}}
        deps: {{raw: !path raw/numbers.txt}}
        outs: {{note: !path out/note.txt}}
      fit:
        fn: models:mods.train.fit
        params: {{lr: 0.5, counter: !param counter}}
        deps: {{table: !out make.table}}
        outs: {{model: !path out/model.json}}
      score:
        fn: models:mods.train.score
        params: {{counter: !param counter}}
        deps: {{model: !out fit.model}}
        outs: {{report: !path out/report}}
"""


BLANK_DB: list[Path] = []  # set by tests/e2e/conftest.py: a migrated, empty MLflow db


def seed_db(ws: Path) -> None:
    """Give the workspace folder ``ws`` the migrated, empty MLflow db, when there is one."""
    if BLANK_DB:
        seed_mlflow_db(BLANK_DB[0], ws)


def make_workspace(root: Path, *, extra: str = "") -> Path:
    """Two repos with clashing pins and a four-step manifest; returns the manifest path."""
    make_repo(root / "upstream" / "features", FEATURES_FILES)
    make_repo(root / "upstream" / "models", MODELS_FILES)
    ws = root / "ws"
    write_files(ws, {"data/numbers.txt": "1 2 3 4\n"})
    seed_db(ws)
    text = MANIFEST.format(
        features="../upstream/features",
        models="../upstream/models",
        counter=str(ws / "counter.log"),
    )
    return write_manifest(ws, textwrap.dedent(text) + textwrap.dedent(extra))


def executions(manifest: Path) -> list[str]:
    """The steps that really executed, in order (each step appends its name)."""
    counter = manifest.parent / "counter.log"
    return counter.read_text().split() if counter.exists() else []


def make_counter_workspace(root: Path, repos: Mapping[str, str], steps: str) -> Path:
    """A workspace ``root/ws`` (its MLflow db seeded) whose manifest, named ``e2e``, has
    the param ``counter`` (the file :func:`executions` reads), the repos ``root/upstream/<name>``
    of ``repos`` at ``main`` (each with the keys its value adds, ``"uses: [lib]"``) and
    ``steps`` (YAML lines indented by two spaces); returns the manifest path."""
    ws = root / "ws"
    ws.mkdir()
    seed_db(ws)
    listed = "".join(_upstream_repo(name, more) for name, more in repos.items())
    text = f"version: 1\nname: e2e\nparams:\n  counter: {ws / 'counter.log'}\n"
    return write_manifest(ws, text + f"repos:\n{listed}steps:\n{steps}")


def _upstream_repo(name: str, more: str) -> str:
    keys = ", ".join(k for k in (f"url: ../upstream/{name}", "rev: main", more) if k)
    return f"  {name}: {{{keys}}}\n"


def counted_step(name: str, fn: str, out: str, more: str = "") -> str:
    """A line of ``steps:``: step ``name`` runs ``fn`` with the param ``counter`` and
    writes its one output, ``out``, to the store file ``out``; ``more`` adds keys before
    ``outs`` (``"deps: {x: !out a.out}, "``)."""
    params = "{counter: !param counter}"
    return f"  {name}: {{fn: '{fn}', params: {params}, {more}outs: {{out: {out}}}}}\n"


def make_one_repo_workspace(
    root: Path, files: Mapping[str, str], name: str, steps: str, *, repo: str = "a", head: str = ""
) -> Path:
    """The repo ``root/up/<repo>`` holding ``files`` and the workspace ``root/ws`` over it.

    Its manifest ``name`` adds the top-level lines ``head`` (``"paths: {out: outputs}\\n"``)
    and ``steps`` (the YAML under ``steps:``, indented as one likes). Returns its path.
    """
    make_repo(root / "up" / repo, files)
    repos = f"repos:\n  {repo}: {{url: ../up/{repo}, rev: main}}\n"
    listed = textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ")
    return write_manifest(root / "ws", f"version: 1\nname: {name}\n{head}{repos}steps:\n{listed}\n")
