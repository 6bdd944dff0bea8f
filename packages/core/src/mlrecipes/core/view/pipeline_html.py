"""Drawing a :class:`~mlrecipes.core.view.model.PipelineView` as one self-contained page.

Layers come from networkx's ``topological_generations`` (a step sits one layer
below the deepest step it reads from); each layer is a row of boxes, edges are
curves labelled with the outputs they carry. Everything is inline (CSS, SVG, a
few lines of script), nothing is fetched, and every piece of user data (step,
function, repo and metric names) is escaped.

Run links are relative (``#/runs/<id>``, ``target=_top``): they work wherever
the UI is served, from a page the UI serves itself. MLflow 3.17 shows an HTML
artifact in an iframe from a ``blob:`` URL with ``sandbox="allow-scripts"``
only: the frame may neither move the page around it nor open a tab, so a click
there goes nowhere. The script makes each link absolute (the ``blob:`` URL
holds the UI's origin), so that the link can be copied or opened from the
browser's context menu.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

from mlrecipes.core.toposort import generations
from mlrecipes.core.view.model import STATUS_LABELS, BoxStatus, Edge, PipelineView, StepBox

PAGE_NAME = "pipeline.html"
BOX_W, LINE_H, PAD = 240, 17, 10
GAP_X, GAP_Y = 40, 70
MAX_METRICS = 5
MAX_CHARS = 34
COLORS: Mapping[BoxStatus, str] = {
    "executed": "#2e7d32",
    "hit": "#1565c0",
    "remote": "#6a1b9a",
    "failed": "#c62828",
    "skipped": "#757575",
    "run": "#ef6c00",
    "cached": "#1565c0",
}
_STYLE = """
body{font:14px system-ui,-apple-system,'Segoe UI',sans-serif;margin:16px;color:#1f2328}
h1{font-size:18px;margin:0 0 4px}p.sub{margin:0 0 12px;color:#57606a}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
svg text{font-size:12px;fill:#1f2328}svg .name{font-weight:600;font-size:13px}
svg .dim{fill:#57606a}svg .label{font-size:11px;fill:#57606a;paint-order:stroke;
stroke:#fff;stroke-width:4px}svg a:hover rect{stroke-width:3}
"""
_SCRIPT = """
(function(){var m=/^blob:(https?:[/][/][^/]+)[/]/.exec(location.href);if(!m)return;
 document.querySelectorAll('a[data-run]').forEach(function(a){
  a.setAttribute('href',m[1]+'/'+a.getAttribute('href'));});})();
"""


def run_link(run_id: str) -> str:
    """The MLflow UI's page of a run, relative to wherever the UI is served.

    MLflow's ``#/runs/<id>`` route finds the run's experiment itself, so the
    link holds for source runs in other experiments (team store) as well.
    """
    return f"#/runs/{run_id}"


def layers(steps: Iterable[str], edges: Iterable[Edge]) -> list[list[str]]:
    """Steps by layer, top first; each layer sorted by name (a stable drawing)."""
    predecessors: dict[str, set[str]] = {name: set() for name in steps}
    for edge in edges:
        if edge.source in predecessors:
            predecessors.setdefault(edge.target, set()).add(edge.source)
    return generations(predecessors)


def render_pipeline(view: PipelineView) -> str:
    """The whole page (see module doc)."""
    boxes = {box.name: box for box in view.steps}
    edges = [e for e in view.edges if e.source in boxes and e.target in boxes]
    rows = layers(boxes, edges)
    height = _box_height(view.steps)
    width = max((len(row) for row in rows), default=1) * (BOX_W + GAP_X) + GAP_X
    places = _places(rows, width, height)
    svg_h = len(rows) * (height + GAP_Y) + GAP_Y // 2
    body = [_edge(e, places, height) for e in edges]
    body += [_box(boxes[name], *places[name], height) for name in boxes]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(view.title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(view.title)}</h1>"
        + (f'<p class="sub">{_e(view.subtitle)}</p>' if view.subtitle else "")
        + _legend(box.status for box in view.steps)
        + f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{svg_h}"'
        f' viewBox="0 0 {width} {svg_h}" role="img" aria-label="pipeline">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#8c959f"/></marker>'
        "</defs>" + "".join(body) + f"</svg><script>{_SCRIPT}</script></body></html>\n"
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _places(rows: Sequence[Sequence[str]], width: int, height: int) -> dict[str, tuple[int, int]]:
    places: dict[str, tuple[int, int]] = {}
    for depth, row in enumerate(rows):
        left = (width - len(row) * (BOX_W + GAP_X) + GAP_X) // 2
        for index, name in enumerate(row):
            places[name] = (left + index * (BOX_W + GAP_X), GAP_Y // 2 + depth * (height + GAP_Y))
    return places


def _lines(box: StepBox) -> list[tuple[str, str]]:
    """(css class, text) of each line under the step's name."""
    commit = box.commit[:10] + (" (dirty)" if box.dirty else "") if box.commit else "no commit"
    status = STATUS_LABELS[box.status]
    if box.duration is not None:
        status += f" \u00b7 {format_duration(box.duration)}"
    lines = [("dim", box.fn), ("status", status), ("commit", f"{box.repo} @ {commit}")]
    names = sorted(box.metrics)
    for name in names[:MAX_METRICS]:
        lines.append(("metric", f"{name} = {box.metrics[name]:.4g}"))
    if len(names) > MAX_METRICS:
        lines.append(("dim", f"+{len(names) - MAX_METRICS} more metrics"))
    return lines


def _box_height(boxes: Sequence[StepBox]) -> int:
    most = max((len(_lines(box)) for box in boxes), default=3)
    return PAD * 2 + LINE_H * (most + 1)


def _box(box: StepBox, x: int, y: int, height: int) -> str:
    color = COLORS[box.status]
    dash = ' stroke-dasharray="6 4"' if box.status in ("skipped", "run") else ""
    parts = [
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{height}" rx="8" fill="#fff"'
        f' stroke="{color}" stroke-width="2"{dash}/>',
        f'<rect x="{x}" y="{y}" width="6" height="{height}" rx="3" fill="{color}"/>',
        f'<text class="name" x="{x + PAD + 4}" y="{y + PAD + 12}">{_e(_short(box.name))}</text>',
    ]
    for index, (css, text) in enumerate(_lines(box), start=1):
        fill = f' fill="{color}"' if css == "status" else ""
        parts.append(
            f'<text class="{css}" x="{x + PAD + 4}" y="{y + PAD + 12 + index * LINE_H}"{fill}>'
            f"{_e(_short(text))}</text>"
        )
    inner = "".join(parts)
    if box.run_id:
        href = _e(run_link(box.run_id))
        inner = f'<a href="{href}" target="_top" data-run="{_e(box.run_id)}">{inner}</a>'
    attrs = (
        f'class="step" data-step="{_e(box.name)}" data-status="{box.status}"'
        f' data-commit="{_e(box.commit)}" data-dirty="{str(box.dirty).lower()}"'
    )
    return f"<g {attrs}><title>{_e(box.name)}: {_e(STATUS_LABELS[box.status])}</title>{inner}</g>"


def _edge(edge: Edge, places: Mapping[str, tuple[int, int]], height: int) -> str:
    (x1, y1), (x2, y2) = places[edge.source], places[edge.target]
    ax, ay, bx, by = x1 + BOX_W // 2, y1 + height, x2 + BOX_W // 2, y2
    mid = (ay + by) // 2
    label = ", ".join(edge.outputs)
    return (
        f'<g class="edge" data-source="{_e(edge.source)}" data-target="{_e(edge.target)}">'
        f'<path d="M{ax},{ay} C{ax},{mid} {bx},{mid} {bx},{by}" fill="none" stroke="#8c959f"'
        ' stroke-width="1.5" marker-end="url(#arrow)"/>'
        f'<text class="label" x="{(ax + bx) // 2 + 4}" y="{mid + 4}">{_e(_short(label))}</text></g>'
    )


def _legend(statuses: Iterable[BoxStatus]) -> str:
    seen = sorted(set(statuses), key=list(STATUS_LABELS).index)
    items = "".join(
        f'<span><i style="background:{COLORS[s]}"></i>{_e(STATUS_LABELS[s])}</span>' for s in seen
    )
    return f'<p class="legend">{items}</p>'


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
