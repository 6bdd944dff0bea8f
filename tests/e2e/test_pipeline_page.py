"""``pipeline.html`` of real runs, read back from MLflow and loaded in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helpers.browser import Node, dump_dom, parse, require_chromium, screenshot, shots_dir
from tests.helpers.mlflow_server import MlflowServer, mlflow_server_fixture
from tests.helpers.team_store_repos import on_machine
from tests.helpers.view_repos import make_view_machines
from tests.helpers.workspaces import git, make_workspace
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import RunOptions, Workspace
from mlrecipes.core.errors import StepFailed

pytestmark = pytest.mark.slow
mlflow_server = mlflow_server_fixture()


def _run(manifest: Path, targets: tuple[str, ...] = (), **options: Any) -> None:
    with on_machine(manifest):
        Workspace.load(manifest).run(targets, options=RunOptions(**options))


def _runs_of_kind(uri: str, experiment: str, kind: str, order: str) -> list[Any]:
    """The runs of ``kind`` (pipeline or step) of ``experiment``, by start time ``order``."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return list(
        client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.`mlrecipes.kind` = '{kind}'",
            order_by=[f"attributes.start_time {order}"],
        )
    )


def _latest_parent(uri: str, experiment: str) -> Any:
    return _runs_of_kind(uri, experiment, "pipeline", "DESC")[0]


def _page(uri: str, run_id: str, into: Path) -> Path:
    from mlflow import MlflowClient

    return Path(MlflowClient(uri).download_artifacts(run_id, "pipeline.html", str(into)))


def _boxes(dom: Node) -> dict[str, Node]:
    return {g.attrs["data-step"]: g for g in dom.find_all("g", class_="step")}


def test_page_of_a_run_with_hits_a_team_store_hit_and_a_failure(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    require_chromium()
    m1, m2 = make_view_machines(tmp_path, mlflow_server.url, "view-page")
    _run(m1)  # machine 1 executes every step and shares their outputs
    _run(m2, ("prep",))  # machine 2 takes prep from the team store: now a local hit
    with pytest.raises(StepFailed):
        _run(m2, overrides=("report.fail=true",))
    parent = _latest_parent(mlflow_server.url, "view-page")
    children = {
        r.data.tags["mlrecipes.step"]: r.info.run_id for r in _children(mlflow_server.url, parent)
    }
    page = _page(mlflow_server.url, parent.info.run_id, tmp_path / "page")
    dom = parse(dump_dom(page.as_uri()))
    boxes = _boxes(dom)
    status = {name: box.attrs["data-status"] for name, box in boxes.items()}
    assert status == {"prep": "hit", "train": "remote", "report": "failed", "publish": "skipped"}
    commit = git(tmp_path / "upstream" / "code", "rev-parse", "HEAD")
    assert {box.attrs["data-commit"] for box in boxes.values()} == {commit}
    assert all(commit[:10] in box.text for box in boxes.values())
    assert "from the team store" in boxes["train"].text
    assert "cache hit" in boxes["prep"].text
    links = {name: [a.attrs["href"] for a in box.find_all("a")] for name, box in boxes.items()}
    # report ran here (and failed): its own child run; train's and prep's outputs were
    # made by machine 1's runs; publish never ran.
    assert links["report"] == [f"#/runs/{children['report']}"]
    first = _first_step_runs(mlflow_server.url, "view-page")
    assert links["train"] == [f"#/runs/{first['train']}"]
    assert links["prep"] == [f"#/runs/{first['prep']}"]
    assert links["publish"] == []
    assert all(a.attrs["target"] == "_top" for a in dom.find_all("a"))
    edges = {
        (e.attrs["data-source"], e.attrs["data-target"]): e.text
        for e in dom.find_all("g", class_="edge")
    }
    assert edges == {
        ("prep", "train"): "table",
        ("train", "report"): "model",
        ("report", "publish"): "report",
    }
    assert "val.auc&lt;1&gt;" not in dom.text  # escaped once, shown as written
    assert "val.auc<1> = 0.875" in boxes["train"].text
    # self-contained: nothing is fetched
    assert all("src" not in node.attrs for node in dom.iter())
    assert not dom.find_all("link")
    shot = screenshot(page.as_uri(), shots_dir(tmp_path) / "pipeline-page.png", size=(1100, 900))
    assert shot.stat().st_size > 0


def _children(uri: str, parent: Any) -> list[Any]:
    from mlflow import MlflowClient

    return list(
        MlflowClient(uri).search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
    )


def _first_step_runs(uri: str, experiment: str) -> dict[str, str]:
    """Which run made each step of machine 1's (first) pipeline run."""
    made: dict[str, str] = {}
    for run in _runs_of_kind(uri, experiment, "step", "ASC"):
        made.setdefault(run.data.tags["mlrecipes.step"], run.info.run_id)
    return made


def test_dag_html_draws_the_plan_before_a_run(tmp_path: Path) -> None:
    manifest = make_workspace(tmp_path)
    Workspace.load(manifest).run(("make",))
    out = tmp_path / "plan.html"
    result = CliRunner().invoke(
        app, ["dag", "--format", "html", "-f", str(manifest), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    dom = parse(out.read_text(encoding="utf-8"))
    boxes = _boxes(dom)
    status = {name: box.attrs["data-status"] for name, box in boxes.items()}
    assert status == {"make": "cached", "side": "run", "fit": "run", "score": "run"}
    features = git(tmp_path / "upstream" / "features", "rev-parse", "HEAD")
    assert boxes["make"].attrs["data-commit"] == features
    assert not dom.find_all("a")  # nothing ran: no run to link
    # layers: make and side read only files, fit reads make, score reads fit
    top = {name: float(box.find_all("rect")[0].attrs["y"]) for name, box in boxes.items()}
    assert top["make"] == top["side"] < top["fit"] < top["score"]
