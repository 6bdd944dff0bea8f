"""Repos for the code-dependency tests: steps that import, open, list and spawn."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.workspaces import counted_step, make_counter_workspace, make_repo

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
REPOS = {"lib": "", "feats": "uses: [lib]"}
STEPS = (
    counted_step("hello", "feats:pkg.hello.run", "hello.txt")
    + counted_step("train", "feats:pkg.train.run", "table.txt")
    + counted_step("shell", "feats:pkg.shell.run", "shell.txt")
    + counted_step("uselib", "feats:pkg.uselib.run", "bonus.txt")
)


def make_codedeps_workspace(root: Path, *, extra: str = "") -> Path:
    """feats (four steps) using lib; returns the manifest's path. ``extra`` is appended
    as written (steps go indented by two spaces)."""
    make_repo(root / "upstream" / "lib", LIB_FILES)
    make_repo(root / "upstream" / "feats", FEATS_FILES)
    return make_counter_workspace(root, REPOS, STEPS + extra)
