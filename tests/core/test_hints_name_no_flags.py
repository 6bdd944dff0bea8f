"""Core hints name API options (in backticks), never CLI flags: core knows no argv.

The CLI shows an option as its flag (``mlrecipes.cli.errors.API_FLAGS``). This
scans every ``hint=`` given in core's source for text that reads as a flag.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

CORE = Path(__file__).parents[2] / "packages" / "core" / "src" / "mlrecipes" / "core"
FLAG = re.compile(r"(?<![\w-])(--[a-z][\w-]*|-[A-Za-z](?= ))")
# A command of another program, quoted whole in backticks, may carry its own flags.
FOREIGN_COMMAND = re.compile(r"`(?:ray|uv|git|mlflow|pip) [^`]*`")


def _strings(node: ast.expr) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value


def hint_texts(source: str) -> Iterator[tuple[int, str]]:
    """Each string given as a ``hint=`` keyword (f-string parts included), with its line."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "hint":
                    yield keyword.value.lineno, " ".join(_strings(keyword.value))


def flags_in(text: str) -> list[str]:
    return FLAG.findall(FOREIGN_COMMAND.sub("", text))


def test_no_core_hint_names_a_cli_flag() -> None:
    found = [
        f"{path.relative_to(CORE)}:{line}: {flags}"
        for path in sorted(CORE.rglob("*.py"))
        for line, text in hint_texts(path.read_text(encoding="utf-8"))
        if (flags := flags_in(text))
    ]
    assert found == []


def test_the_scan_sees_a_flag() -> None:
    source = 'raise UserError("x", hint=f"give another --port, or `port`")\nf(hint="e.g. -S a=1")'
    assert [flags_in(text) for _, text in hint_texts(source)] == [["--port"], ["-S"]]
    assert flags_in("run `ray start --head` or set `address`") == []
