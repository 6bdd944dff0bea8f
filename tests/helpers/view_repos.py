"""A four-step pipeline whose runs show every status of ``pipeline.html``.

``prep -> train -> report -> publish``: ``report`` fails when ``fail`` is true,
which leaves ``publish`` skipped. Two machines share one MLflow server (see
:mod:`tests.helpers.team_store_repos`), so a step can come from the team store.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.helpers.team_store_repos import make_two_machines

FILES = {
    "requirements.txt": "six==1.16.0\n",
    "view_steps/__init__.py": "",
    "view_steps/steps.py": """
        from pathlib import Path


        def prep(raw: Path, table: Path) -> dict:
            rows = raw.read_text().split()
            table.write_text("\\n".join(rows))
            return {"rows": len(rows)}


        def train(table: Path, model: Path, lr: float = 0.1) -> dict:
            total = sum(int(x) for x in table.read_text().split())
            model.write_text(str(total * lr))
            return {"loss": total * lr, "val.auc<1>": 0.875}


        def report(model: Path, report: Path, fail: bool = False) -> dict:
            if fail:
                raise RuntimeError("report refused the model")
            report.write_text("ok " + model.read_text())
            return {"score": 1.0}


        def publish(report: Path, site: Path) -> None:
            site.write_text(report.read_text())
    """,
}

MANIFEST = """
    paths:
      raw: data
    store:
      share: auto
    steps:
      prep:
        fn: code:view_steps.steps.prep
        deps: {raw: !path raw/numbers.txt}
        outs: {table: table.txt}
      train:
        fn: code:view_steps.steps.train
        params: {lr: 0.5}
        deps: {table: !out prep.table}
        outs: {model: model.txt}
      report:
        fn: code:view_steps.steps.report
        params: {fail: false}
        deps: {model: !out train.model}
        outs: {report: report.txt}
      publish:
        fn: code:view_steps.steps.publish
        deps: {report: !out report.report}
        outs: {site: site.txt}
"""


def make_view_machines(root: Path, uri: str, name: str) -> tuple[Path, Path]:
    """The upstream repo and two machines' workspaces; their manifest paths."""
    return make_two_machines(root, uri, name, ("code", FILES), textwrap.dedent(MANIFEST))
