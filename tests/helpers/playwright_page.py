"""Playwright driving Debian's Chromium (no browser download): for pages whose state
comes from clicks (the MLflow UI's expandable run rows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.helpers.browser import require_chromium


@contextmanager
def chromium_page(width: int = 1600, height: int = 1000) -> Iterator[Any]:
    """A Playwright page in headless Chromium; skips when Playwright or Chromium is missing."""
    executable = require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
