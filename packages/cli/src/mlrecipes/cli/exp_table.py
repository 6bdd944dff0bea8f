"""The ``exp show`` table: fitted to the terminal, the columns asked for, or all of them.

A table of runs grows a column per step metric and per repo; wrapped in an
80-column terminal it cannot be read. By default the table keeps the columns
that fit, in order of use (run, overrides, metrics, status, start, commits),
with headers folded at the step name (``evaluate`` over ``auc``), and names the
columns it left out. ``--columns`` chooses them (names or globs such as
``evaluate.*``), ``--wide`` shows them all, never squeezed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.table import Table

from mlrecipes.core.errors import UserError
from mlrecipes.core.suggest import did_you_mean

FIXED = ("run_id", "start_time", "status", "overrides")
HEADERS = {"run_id": "run", "start_time": "start"}
"""What the table calls these columns; ``--columns`` and the notes take either name."""
_PRIORITY = {"run_id": 0, "overrides": 1, "status": 3, "start_time": 4}  # metrics 2, commits 5


def choose_columns(columns: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The columns matching ``patterns`` (names or globs), in the order given."""
    chosen: list[str] = []
    aliases = {header: name for name, header in HEADERS.items()}
    for given in patterns:
        pattern = aliases.get(given, given)
        found = [c for c in columns if fnmatch.fnmatchcase(c, pattern) and c not in chosen]
        if not found and pattern not in chosen:
            raise UserError(
                f"exp show: no column {given!r}",
                hint=did_you_mean(pattern, columns) + " (globs such as 'evaluate.*' work too)",
            )
        chosen += found
    return chosen


def fit_columns(records: Sequence[dict[str, Any]], columns: Sequence[str], width: int) -> list[str]:
    """The columns that fit in ``width``, most useful first, shown in their own order."""
    widths = {column: column_width(records, column) for column in columns}
    shown: list[str] = []
    for column in sorted(columns, key=_priority):
        if not shown or table_width([*(widths[c] for c in shown), widths[column]]) <= width:
            shown.append(column)
    return [c for c in columns if c in shown]


def _priority(column: str) -> int:
    if column in _PRIORITY:
        return _PRIORITY[column]
    return 5 if column.endswith("@") else 2


def column_width(records: Sequence[dict[str, Any]], column: str) -> int:
    """The widest cell or header line of ``column``, in terminal cells."""
    lines = _header(column).splitlines()
    cells = (_cell(column, record.get(column, "")) for record in records)
    return max(cell_len(text) for text in (*lines, *cells))


def table_width(widths: Sequence[int]) -> int:
    """How wide rich draws a table of these columns: one space of padding on each side
    of a cell, one border between cells and at each edge. Measuring rich tables
    themselves took seconds for 100 runs, once per column tried."""
    return sum(widths) + 3 * len(widths) + 1


def build_table(
    records: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> Table:
    table = Table(*[_header(c) for c in columns], title=title)
    for record in records:
        table.add_row(*[_cell(c, record.get(c, "")) for c in columns])
    return table


def column_name(column: str) -> str:
    """The name the table's header shows for ``column`` (``run``, ``start``)."""
    return HEADERS.get(column, column)


def _header(column: str) -> str:
    if column in HEADERS:
        return HEADERS[column]
    step, dot, metric = column.partition(".")
    return f"{step}\n{metric}" if dot and column not in FIXED else column


def _cell(column: str, value: Any) -> str:
    if column == "run_id":
        return str(value)[:8]
    if column == "start_time" and value:
        return str(value)[:16].replace("T", " ")  # minutes are enough in a table; JSON has all
    return f"{value:.4g}" if isinstance(value, float) else str(value)
