"""Writing a file whole: the one atomic writer of core's JSON records.

The text goes to a temporary file of its own (a unique name, so two writers may
race) in the target's folder, which is then renamed over the target: a reader
sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename, making its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(
    path: Path, data: Mapping[str, Any], *, sort_keys: bool = False, indent: int | None = 1
) -> None:
    """Replace ``path`` by ``data`` as JSON (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, sort_keys=sort_keys, indent=indent) + "\n")
