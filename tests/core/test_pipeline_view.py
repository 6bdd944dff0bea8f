"""The pipeline page as a pure function: layers, escaping, links, nothing fetched."""

from __future__ import annotations

from tests.helpers.browser import parse

from mlrecipes.core.view import Edge, PipelineView, StepBox, render_pipeline, run_link
from mlrecipes.core.view.pipeline_html import format_duration, layers

HOSTILE = '<script>alert("x")</script>&'
METRIC = "<b>&'m\""


def _view() -> PipelineView:
    steps = (
        StepBox("a", "r:m.a", "executed", "r", "c" * 40, duration=3.25, run_id="run1"),
        StepBox("b", "r:m.b", "hit", "r", "c" * 40, dirty=True, run_id="run0"),
        StepBox(HOSTILE, "r:m.c", "failed", "r", "", metrics={METRIC: 0.123456}),
        StepBox("d", "r:m.d", "skipped", "r", "c" * 40),
    )
    edges = (Edge("a", "b", ("x",)), Edge("a", HOSTILE, ("y", "z")), Edge(HOSTILE, "d", ("q",)))
    return PipelineView("title " + HOSTILE, steps, edges, subtitle=HOSTILE)


def test_layers_put_each_step_below_what_it_reads() -> None:
    edges = [Edge("a", "b", ("x",)), Edge("a", "c", ("y",)), Edge("b", "d", ()), Edge("c", "d", ())]
    assert layers(["d", "c", "b", "a", "e"], edges) == [["a", "e"], ["b", "c"], ["d"]]


def test_user_data_is_escaped_and_shown_as_written() -> None:
    page = render_pipeline(_view())
    assert "<script>alert" not in page
    dom = parse(page)
    assert next(s.text for s in dom.find_all("script")).count("alert") == 0
    box = dom.find_all("g", class_="step", data_step=HOSTILE)[0]
    assert box.attrs["data-status"] == "failed"
    assert f"{METRIC} = 0.1235" in box.text
    assert "<b>" not in render_pipeline(_view())
    assert dom.find_all("title")[0].text == "title " + HOSTILE


def test_runs_are_linked_for_the_top_frame_and_nothing_is_fetched() -> None:
    dom = parse(render_pipeline(_view()))
    links = {a.attrs["data-run"]: a.attrs for a in dom.find_all("a")}
    assert links["run1"]["href"] == run_link("run1") == "#/runs/run1"
    assert {a["target"] for a in links.values()} == {"_top"}
    assert set(links) == {"run1", "run0"}
    assert all("src" not in n.attrs and "http" not in n.attrs.get("href", "") for n in dom.iter())


def test_boxes_say_status_commit_dirty_and_duration() -> None:
    boxes = {
        b.attrs["data-step"]: b
        for b in parse(render_pipeline(_view())).find_all("g", class_="step")
    }
    assert "executed \u00b7 3.2 s" in boxes["a"].text
    assert "r @ cccccccccc (dirty)" in boxes["b"].text
    assert boxes["b"].attrs["data-dirty"] == "true"
    assert "no commit" in boxes[HOSTILE].text


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (0.42, 12.4, 185, 3725)] == [
        "0.4 s",
        "12 s",
        "3 min 05 s",
        "1 h 02 min",
    ]
