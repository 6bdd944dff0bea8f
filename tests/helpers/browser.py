"""Headless Chromium for tests: the DOM of a page after its scripts ran, and screenshots.

Chromium comes from Debian's packages (``apt-get install -y chromium``; ``.ci/run``
installs it). Tests that need it call :func:`require_chromium`, which skips
with the reason when no binary is found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def find_chromium() -> str | None:
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def require_chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("no chromium binary on PATH (install it: apt-get install -y chromium)")
    return found


def _run(args: list[str], timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            require_chromium(),
            *("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"),
            *(f"--user-data-dir={profile}", "--hide-scrollbars"),
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout


def dump_dom(url: str, *, budget_ms: int = 0, timeout: float = 120) -> str:
    """The serialized DOM of ``url`` once its scripts had ``budget_ms`` of virtual time."""
    budget = [f"--virtual-time-budget={budget_ms}"] if budget_ms else []
    return _run([*budget, "--dump-dom", url], timeout)


SHOTS_ENV = "MLRECIPES_SCREENSHOTS"
"""Set to an absolute folder (``$PWD/docs``) to keep the browser tests' screenshots there
(the README shows them); tests run in a temporary folder, so a relative path lands there."""


def shots_dir(tmp_path: Path) -> Path:
    """Where a test saves its screenshot: ``$MLRECIPES_SCREENSHOTS`` if set, else ``tmp_path``."""
    folder = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(
    url: str, out: Path, *, size: tuple[int, int] = (1280, 800), budget_ms: int = 0
) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    budget = [f"--virtual-time-budget={budget_ms}"] if budget_ms else []
    _run([*budget, f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", url], 180)
    return out


@dataclass
class Node:
    """An element of a parsed page: tag, attributes, children, and its text."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts + [child.text for child in self.children])

    def iter(self) -> list[Node]:
        found = [self]
        for child in self.children:
            found += child.iter()
        return found

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and all(node.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    builder.close()
    return builder.root
