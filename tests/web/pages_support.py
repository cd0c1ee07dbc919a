"""Helpers for the hosted-page tests: read a page's form as a browser would, and post it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx

from issuer.app import create_app
from issuer.clock import utcnow
from issuer.runtime import Runtime
from issuer.settings import Settings
from tests.keyring.clock import ManualClock
from tests.oauth.login_support import add_login_client, authorize_params, new_verifier
from tests.oauth.support import PASSWORD, add_user

Browser = httpx.AsyncClient


class _Forms(HTMLParser):
    """Every form's action and fields (inputs and buttons with a name)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append({"action": found.get("action"), "fields": {}, "buttons": []})
        elif tag == "label" and found.get("for"):
            self.labels[found["for"] or ""] = "label"
        elif tag == "input" and self.forms:
            self.inputs.append(found)
            if found.get("name"):
                self.forms[-1]["fields"][found["name"]] = found.get("value") or ""
        elif tag == "button" and self.forms and found.get("name"):
            self.forms[-1]["buttons"].append((found["name"], found.get("value")))


def parse(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def the_form(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The page's one form: its action and its fields' values."""
    forms = parse(response.text).forms
    assert len(forms) == 1, response.text
    return forms[0]["action"], dict(forms[0]["fields"])


async def submit(browser: Browser, response: httpx.Response, **values: str) -> httpx.Response:
    """Post the page's form with `values` filled in (as a browser does, with its cookies)."""
    action, fields = the_form(response)
    # The action is a path from the host (ISSUER_URL's path included), as a browser reads it.
    url = browser.base_url.join(action)
    result: httpx.Response = await browser.post(url, data={**fields, **values})
    return result


async def authorize(
    browser: Browser, *, method: str = "GET", **overrides: str
) -> tuple[httpx.Response, str]:
    """An authorization request as a client's redirect makes it; the response, the verifier."""
    verifier, challenge = new_verifier()
    params = authorize_params(challenge=challenge, **overrides)
    params = {name: value for name, value in params.items() if value != ""}
    if method == "POST":
        response = await browser.post("/oauth/authorize", data=params)
    else:
        response = await browser.get("/oauth/authorize", params=params)
    return response, verifier


THIRD_URI = "https://third.example.net/cb"
THIRD_LOGOUT_URI = "https://third.example.net/signed-out"


@dataclass
class Site:
    """A served issuer with the user ada, the first-party public client `spa` ("Example
    SPA", no consent) and the client `third` ("Third Party", consent required), a browser
    (a cookie jar, no redirects followed) and the clock the app reads."""

    browser: Browser
    runtime: Runtime
    clock: ManualClock
    user_id: str

    async def log_in(self, response: httpx.Response, password: str = PASSWORD) -> httpx.Response:
        return await submit(self.browser, response, email="ada@example.com", password=password)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Site]:
    """The app on the test's own event loop (so that tests may use its runtime's database
    and server directly), reached at ISSUER_URL, https included."""
    clock = ManualClock(utcnow())
    app = create_app(settings, clock=clock)
    runtime: Runtime = app.state.runtime
    # What the app's lifespan does, without its task-bound cancel scope: a fixture's setup
    # and teardown run in different tasks.
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        browser = httpx.AsyncClient(transport=transport, base_url=settings.url)
        user_id = await add_user(runtime.database, runtime)
        await add_login_client(runtime.database, clock(), name="Example SPA")
        await add_login_client(
            runtime.database,
            clock(),
            "third",
            name="Third Party",
            consent_required=True,
            redirect_uris=(THIRD_URI,),
            post_logout_redirect_uris=(THIRD_LOGOUT_URI,),
        )
        async with browser:
            yield Site(browser, runtime, clock, user_id)
    finally:
        await runtime.close()
