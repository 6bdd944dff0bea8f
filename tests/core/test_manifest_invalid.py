"""Every ``manifests/invalid_*.yaml`` must fail with the problems its header announces.

Header format: the file starts with one or more comment lines
``# expect: LINE TEXT``; for each, some reported problem must be at LINE and
``TEXT`` must occur in ``"{message} (hint: {hint})"``. The number of problems
must equal the number of expectations, so that one mistake is never reported
twice (no cascades).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlrecipes.core.errors import ManifestError, Problem
from mlrecipes.core.manifest import load_manifest

MANIFESTS = Path(__file__).parent / "manifests"
INVALID = sorted(MANIFESTS.glob("invalid_*.yaml"))
_EXPECT = re.compile(r"^# expect: (\d+) (.+)$")


def _expectations(path: Path) -> list[tuple[int, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line)
        if not match:
            break
        found.append((int(match.group(1)), match.group(2)))
    return found


def _text(problem: Problem) -> str:
    return f"{problem.message} (hint: {problem.hint})"


def test_there_are_enough_invalid_manifests() -> None:
    assert len(INVALID) >= 30
    assert all(_expectations(path) for path in INVALID)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem.removeprefix("invalid_"))
def test_invalid_manifest_reports_located_problems(path: Path) -> None:
    expected = _expectations(path)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    problems = info.value.problems
    shown = "\n".join(p.format() for p in problems)
    assert len(problems) == len(expected), shown
    for line, text in expected:
        assert any(p.line == line and text in _text(p) for p in problems), (
            f"expected line {line}: {text!r}\ngot:\n{shown}"
        )
    assert all(p.file == path and p.col >= 1 for p in problems)
