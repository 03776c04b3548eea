"""Module-scoped databases for the web tests: import once per database, then many requests.

The conftest ``db_url`` fixture is per test; the web tests read the same
imported data in many tests, so they build one database per module and per
dialect here (same SQLite file / throw-away PostgreSQL schema scheme).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import throwaway_database


@contextlib.contextmanager
def module_database(dialect: str, tmp_dir) -> Iterator[str]:
    """A URL to an empty database of this dialect for a whole module, dropped afterwards."""
    with throwaway_database(dialect, tmp_dir, "web.db") as url:
        yield url


# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="/usr/bin/chromium is absent (apt-get install chromium; .ci/run does)")


@contextlib.contextmanager
def chromium_browser():
    """Headless Chromium, as root (hence no sandbox), with no background traffic to the closed network."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()


DIALECTS = pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
