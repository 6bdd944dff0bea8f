"""``mlrecipes ui`` opens on the runs, model-training side, with mlrecipes' columns (real
server, real Chromium): one metric column fills for parent and child rows."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.browser import shots_dir
from tests.helpers.mlflow_server import free_port
from tests.helpers.playwright_page import chromium_page
from tests.helpers.workspaces import CLI, make_workspace

from mlrecipes.core import RunOptions, Workspace

pytestmark = pytest.mark.slow
READY = 240.0  # seconds


def _ui_url(manifest: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    command = [*CLI, "ui", "-f", str(manifest), "-p", str(port)]
    ui = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    assert ui.stdout is not None
    line = ui.stdout.readline()  # printed once the server answers
    assert line.startswith("MLflow UI: "), line
    return ui, line.split()[2]


def _cell(page: Any, run: str, column: str) -> str:
    """The text of ``column`` in the row of the run named ``run`` (ag-grid splits a row
    between its pinned and scrolling parts; ``row-index`` joins them)."""
    link = page.get_by_role("link", name=run, exact=True)
    index = page.locator('[role="row"]', has=link).first.get_attribute("row-index")
    cell = page.locator(f'[role="row"][row-index="{index}"] [col-id="{column}"]')
    return str(cell.first.inner_text()).strip()


def test_ui_lands_on_the_runs_with_one_metric_column_for_parents_and_children(
    tmp_path: Path,
) -> None:
    manifest = make_workspace(tmp_path)
    Workspace.load(manifest).run(options=RunOptions(overrides=("fit.lr=0.1,0.5",)))
    ui, url = _ui_url(manifest, free_port())
    try:
        assert "workflowType=machine_learning" in url and "viewStateShareKey=mlrecipes" in url
        with chromium_page() as page:
            page.goto(url)
            parent = page.get_by_role("link", name="lr=0.5", exact=True)
            parent.wait_for(timeout=90_000)
            assert page.get_by_role("link", name="Traces").count() <= 1  # no GenAI sidebar
            assert page.get_by_text("Judges", exact=True).count() == 0
            column = "metrics.`score.score`"
            assert page.locator(f'[col-id="{column}"]').count() > 0
            assert _cell(page, "lr=0.5", column) == "10"
            assert _cell(page, "lr=0.1", column) == "2"
            assert _cell(page, "lr=0.5", "params.`fit.lr`") == "0.5"
            # expand the lr=0.5 run: its step runs fill the same column
            row = page.locator('[role="row"]', has=parent).first
            row.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
            page.get_by_role("link", name="score", exact=True).wait_for(timeout=30_000)
            assert _cell(page, "score", column) == "10"
            page.screenshot(path=str(shots_dir(tmp_path) / "ui-runs.png"))
    finally:
        ui.send_signal(signal.SIGTERM)  # it stops the server it started
        ui.wait(30)
        if ui.stdout is not None:
            ui.stdout.close()
