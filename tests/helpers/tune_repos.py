"""A stdlib-only repo with a known optimum, and a workspace over it, for ``tune`` tests.

``prepare`` appends a line to a counter file outside the store each time it really
executes; ``train`` returns ``score = 0.1*[kind == b] - (x - 0.3)**2 - 0.05*(depth - 5)**2``,
whose maximum 0.1 is at x=0.3, depth=5, kind=b; ``kind=broken`` raises.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.workspaces import (
    IGNORE_BUILD_LEFTOVERS,
    make_repo,
    pyproject_toml,
    seed_db,
    write_files,
    write_manifest,
)

OPTIMUM = 0.1

LAB_FILES = {
    ".gitignore": IGNORE_BUILD_LEFTOVERS,
    "pyproject.toml": pyproject_toml("lab"),
    "lab/__init__.py": "",
    "lab/steps.py": """
        import time
        from pathlib import Path


        def prepare(raw: Path, table: Path, counter: str) -> dict:
            with open(counter, "a") as fh:
                fh.write("prepare\\n")
            table.write_text(raw.read_text())
            return {"rows": len(raw.read_text().split())}


        def train(table: Path, x: float, depth: int, kind: str = "a", sleep: float = 0.0) -> dict:
            if kind == "broken":
                raise ValueError("this kind always fails")
            time.sleep(sleep)
            bonus = 0.1 if kind == "b" else 0.0
            score = bonus - (x - 0.3) ** 2 - 0.05 * (depth - 5) ** 2
            return {"score": score, "rows": len(table.read_text().split())}
    """,
}

MANIFEST = """
    version: 1
    name: lab
    paths:
      raw: data
    repos:
      lab:
        url: {url}
        rev: main
    steps:
      prepare:
        fn: lab:lab.steps.prepare
        params: {{counter: {counter}}}
        deps: {{raw: !path raw/numbers.txt}}
        outs: {{table: table.txt}}
      train:
        fn: lab:lab.steps.train
        params: {{x: 0.0, depth: 1, kind: a, sleep: 0.0}}
        deps: {{table: !out prepare.table}}
"""


def make_lab_workspace(root: Path) -> Path:
    """The lab repo under ``root/upstream`` and a workspace in ``root/ws``; the manifest."""
    repo = make_repo(root / "upstream" / "lab", LAB_FILES)
    ws = root / "ws"
    write_files(ws, {"data/numbers.txt": "1 2 3 4\n"})
    seed_db(ws)
    counter = root / "prepare.log"
    return write_manifest(ws, MANIFEST.format(url=repo, counter=counter))


def prepare_count(manifest: Path) -> int:
    """How many times ``prepare`` really executed."""
    counter = manifest.parent.parent / "prepare.log"
    return len(counter.read_text().split()) if counter.exists() else 0
