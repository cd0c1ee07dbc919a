"""The browser harness itself: the browser is Debian's chromium, and the loopback listener
records what a redirect delivered to it."""

from __future__ import annotations

import subprocess

from playwright.sync_api import Browser, Page

from tests.e2e.conftest import CHROMIUM
from tests.e2e.flow import Loopback


def test_the_browser_is_the_system_chromium(browser: Browser) -> None:
    reported = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert browser.version in reported, (browser.version, reported)


def test_the_loopback_listener_records_each_redirect(page: Page, loopback: Loopback) -> None:
    page.goto(f"{loopback.url}/cb?code=abc&state=s%201")
    page.goto(f"{loopback.url}/cb?code=def&state=s%202")
    assert loopback.last("/cb") == {"code": "def", "state": "s 2"}
    assert [path for path, _ in loopback.received] == ["/cb", "/cb"]
