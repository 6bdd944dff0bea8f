"""Two "machines" sharing one MLflow server: the same repos, manifest and data.

Each machine is a workspace folder with its own ``.mlrecipes`` and its own
``MLRECIPES_CACHE_DIR``; steps append their name to ``$TEAMSTORE_COUNTER`` (an
environment variable: not part of any fingerprint) so a test sees what ran where.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.workspaces import make_repo, write_files, write_manifest

PIPE_FILES = {
    "requirements.txt": "six==1.16.0\n",
    "pipe_steps/__init__.py": "",
    "pipe_steps/steps.py": """
        import json
        import os
        from pathlib import Path


        def _count(name: str) -> None:
            with open(os.environ["TEAMSTORE_COUNTER"], "a") as fh:
                fh.write(name + "\\n")


        def prep(raw: Path, table: Path, scale: int = 1) -> dict:
            _count("prep")
            rows = [int(x) * scale for x in raw.read_text().split()]
            table.write_text("\\n".join(str(r) for r in rows))
            return {"rows": len(rows)}


        def train(table: Path, model: Path, lr: float = 0.1) -> dict:
            _count("train")
            total = sum(int(x) for x in table.read_text().split())
            model.mkdir(parents=True)
            (model / "weights.json").write_text(json.dumps({"w": total * lr}))
            (model / "meta").mkdir()
            (model / "meta" / "info.txt").write_text(f"lr={lr}")
            return {"loss": total * lr}


        def report(model: Path, report: Path) -> dict:
            _count("report")
            w = json.loads((model / "weights.json").read_text())["w"]
            report.write_text(f"score {w}")
            return {"score": w / 2}
    """,
}

MANIFEST = """
    paths:
      raw: data
      out: outputs
    store:
      share: {share}
      max_size: {max_size}
    steps:
      prep:
        fn: pipe:pipe_steps.steps.prep
        params: {{scale: 2}}
        deps: {{raw: !path raw/numbers.txt}}
        outs: {{table: table.txt}}
      train:
        fn: pipe:pipe_steps.steps.train
        params: {{lr: 0.5}}
        deps: {{table: !out prep.table}}
        outs: {{model: !path out/model}}
      report:
        fn: pipe:pipe_steps.steps.report
        deps: {{model: !out train.model}}
        outs: {{report: !path out/report.txt}}
"""


def make_machines(
    root: Path, uri: str, name: str, *, share: str = "auto", max_size: str = "1GB"
) -> tuple[Path, Path]:
    """The upstream repo and two machines' workspaces; their manifest paths."""
    text = textwrap.dedent(MANIFEST).format(share=share, max_size=max_size)
    return make_two_machines(root, uri, name, ("pipe", PIPE_FILES), text)


def make_two_machines(
    root: Path, uri: str, name: str, repo: tuple[str, Mapping[str, str]], rest: str
) -> tuple[Path, Path]:
    """The upstream repo ``root/upstream/<repo name>`` holding the repo's files, and the
    workspaces of two machines, ``root/m1/ws`` and ``root/m2/ws``, with the same data and a
    manifest ``name`` tracking to ``uri`` over that repo; ``rest`` is the manifest's other
    top-level keys. Returns their manifest paths."""
    repo_name, files = repo
    make_repo(root / "upstream" / repo_name, files)
    head = f"version: 1\nname: {name}\nmlflow:\n  tracking_uri: {uri}\nrepos:\n"
    text = head + f"  {repo_name}: {{url: ../../upstream/{repo_name}, rev: main}}\n" + rest
    manifests = []
    for machine in ("m1", "m2"):
        ws = root / machine / "ws"
        write_files(ws, {"data/numbers.txt": "1 2 3 4\n"})
        manifests.append(write_manifest(ws, text))
    return manifests[0], manifests[1]


@contextmanager
def on_machine(manifest: Path) -> Iterator[Path]:
    """Act as the machine of ``manifest``: its mirror cache and its step counter."""
    machine = manifest.parent.parent
    saved = {k: os.environ.get(k) for k in ("MLRECIPES_CACHE_DIR", "TEAMSTORE_COUNTER")}
    os.environ["MLRECIPES_CACHE_DIR"] = str(machine / "cache")
    os.environ["TEAMSTORE_COUNTER"] = str(machine / "counter.log")
    try:
        yield machine
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ran(manifest: Path) -> list[str]:
    counter = manifest.parent.parent / "counter.log"
    return counter.read_text().split() if counter.exists() else []
