"""Repos for the code-dependency tests: steps that import, open, list and spawn."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.helpers.uses_repos import seed_db
from tests.helpers.workspaces import make_repo, write_manifest

_COUNT = """
def count(counter: str, name: str) -> None:
    with open(counter, "a") as fh:
        fh.write(name + "\\n")
"""
# `feats`: no packaging, so its root is first on sys.path when a step runs.
FEATS_FILES = {
    "requirements.txt": "\n",
    "pkg/__init__.py": "",
    "pkg/counting.py": _COUNT,
    "pkg/hello.py": """
        from pathlib import Path

        from pkg.counting import count


        def run(out: Path, counter: str, name: str = "hello") -> dict:
            count(counter, name)
            out.write_text("hello")
            return {"n": 1}
    """,
    # train -> pkg.util -> pkg.deep.core (two levels down); a data file beside it.
    "pkg/train.py": """
        from pathlib import Path

        import libtools
        from pkg import util
        from pkg.counting import count


        def run(out: Path, counter: str) -> dict:
            count(counter, "train")
            table = (Path(__file__).parent / "table.txt").read_text()
            out.write_text(table)
            return {"value": util.value() + libtools.BONUS, "rows": len(table.split())}
    """,
    "pkg/util.py": """
        from pkg.deep import core


        def value() -> int:
            return core.BASE * 2
    """,
    "pkg/deep/__init__.py": "",
    "pkg/deep/core.py": "BASE = 1\n",
    "pkg/table.txt": "1 2 3\n",
    "pkg/shell.py": """
        import subprocess
        from pathlib import Path

        from pkg.counting import count


        def run(out: Path, counter: str) -> dict:
            count(counter, "shell")
            subprocess.run(["true"], check=True)
            out.write_text("ok")
            return {}
    """,
    "pkg/uselib.py": """
        from pathlib import Path

        import libtools
        from pkg.counting import count


        def run(out: Path, counter: str) -> dict:
            count(counter, "uselib")
            out.write_text(str(libtools.BONUS))
            return {"bonus": libtools.BONUS}
    """,
}
# `lib`: used by feats, never packaged: on sys.path through a .pth file.
LIB_FILES = {
    "libtools.py": "BONUS = 10\n",
    "other.py": "UNUSED = 1\n",
}
MANIFEST = """
    version: 1
    name: e2e
    params:
      counter: {counter}
    repos:
      lib: {{url: ../upstream/lib, rev: main}}
      feats:
        url: ../upstream/feats
        rev: main
        uses: [lib]
    steps:
      hello:
        fn: feats:pkg.hello.run
        params: {{counter: !param counter}}
        outs: {{out: hello.txt}}
      train:
        fn: feats:pkg.train.run
        params: {{counter: !param counter}}
        outs: {{out: table.txt}}
      shell:
        fn: feats:pkg.shell.run
        params: {{counter: !param counter}}
        outs: {{out: shell.txt}}
      uselib:
        fn: feats:pkg.uselib.run
        params: {{counter: !param counter}}
        outs: {{out: bonus.txt}}
"""


def make_codedeps_workspace(root: Path, *, extra: str = "") -> Path:
    """feats (four steps) using lib; returns the manifest's path. ``extra`` is appended
    as written (steps go indented by two spaces)."""
    make_repo(root / "upstream" / "lib", LIB_FILES)
    make_repo(root / "upstream" / "feats", FEATS_FILES)
    ws = root / "ws"
    ws.mkdir()
    seed_db(ws)
    text = textwrap.dedent(MANIFEST.format(counter=str(ws / "counter.log")))
    return write_manifest(ws, text + extra)
