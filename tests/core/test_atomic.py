"""The one atomic JSON writer: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrecipes.core.atomic import write_json_atomic, write_text_atomic


def test_writes_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "r.json"
    write_json_atomic(path, {"b": 1, "a": 2}, sort_keys=True)
    assert path.read_text() == '{\n "a": 2,\n "b": 1\n}\n'
    write_json_atomic(path, {"b": 3}, indent=None)
    assert json.loads(path.read_text()) == {"b": 3}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    path = tmp_path / "folder" / "r.json"
    write_json_atomic(path, {"old": True})
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(path, "\ud800")  # fails while writing the temporary file
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
