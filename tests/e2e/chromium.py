"""The real browser of the browser tests: Playwright drives Debian's ``chromium`` (never a
downloaded browser). ``tests/e2e/conftest.py`` offers the fixtures (``*_fixture``) to every test
under ``tests/e2e/``, which name them ``chromium`` (one browser for the test process: launching
Playwright's driver and the browser took seconds per module) and ``page`` (a fresh context's
page, whose ``console_errors`` lists the console's errors: nothing of one test's pages, cookies
or storage is seen by the next).

Without Chromium the tests skip outside CI; under ``CI=true`` they fail (``.ci/run``
installs it), so CI never passes without running them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(name="chromium", scope="session")
def chromium_fixture() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="page")
def page_fixture(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
