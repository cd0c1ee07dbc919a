"""Real-browser fixtures: Debian's headless Chromium driven by Playwright, a live issuer.

The browser is the system's `/usr/bin/chromium` (Debian's package `chromium`, installed by
tests/run when missing): Playwright's own browser builds are never downloaded. A missing
browser fails the run with the command that installs it; it is never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.e2e.flow import Loopback, World, make_world
from tests.live import serve_issuer

CHROMIUM = Path(os.environ.get("ISSUER_TEST_CHROMIUM", "/usr/bin/chromium"))
# Generous waits: a login hashes a password (Argon2) on a machine the suite keeps busy.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    """Per test, not per session: Playwright's sync API keeps an event loop running in this
    thread while it is started, and every `asyncio.run` (the Postgres fixtures', the async
    tests') would fail under it. So fixtures that touch a database are set up before this one
    (tests name them first) and nothing outlives the test."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests use Debian's chromium "
            "(`apt-get install chromium`; tests/run installs it when run as root)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test."""
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """The relying parties' redirect URIs: a real HTTP listener on a loopback port."""
    with Loopback.listening() as listener:
        yield listener


@pytest.fixture
def world(database_url: str, tmp_path: Path, loopback: Loopback) -> Iterator[World]:
    """A live issuer with a user and two registered clients redirecting to `loopback`."""
    with serve_issuer(database_url, tmp_path, ISSUER_DISPLAY_NAME="Example ID") as issuer:
        yield make_world(issuer, loopback)
