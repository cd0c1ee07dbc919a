"""A bounded fuzzer for the hosted pages, on both databases: hostile queries, forms, content
types, cookies and methods, starting from real login pages (a good CSRF pair and sealed
request) as often as from nothing. No answer is a 5xx, every error is an HTML page, and no
redirect goes anywhere but a registered redirect or post-logout URI."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import quote_from_bytes, urlencode

import httpx
import pytest

from issuer.settings import Settings
from tests.fuzz.test_bare_endpoints import CONTENT_TYPES, CONTROLS, METHODS, Fuzzer
from tests.oauth.login_support import POST_LOGOUT_URI, REDIRECT_URI, authorize_params, new_verifier
from tests.web.pages_support import THIRD_LOGOUT_URI, THIRD_URI, Site, serving, the_form

REQUESTS = 400  # per database
PAGES = (
    ("/oauth/authorize", "GET"),
    ("/oauth/authorize", "POST"),
    ("/oauth/login", "POST"),
    ("/oauth/consent", "POST"),
    ("/oauth/logout", "GET"),
    ("/oauth/logout/confirm", "POST"),
)
FIELDS = (
    "client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method",
    "scope", "state", "nonce", "prompt", "max_age", "login_hint", "resource", "csrf_token",
    "pending", "email", "password", "decision", "id_token_hint", "post_logout_redirect_uri",
)  # fmt: skip
REGISTERED = (REDIRECT_URI, POST_LOGOUT_URI, THIRD_URI, THIRD_LOGOUT_URI)


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as served:
        yield served


class PageFuzzer:
    def __init__(self, seed: int, login_form: dict[str, str]) -> None:
        self.random = random.Random(seed)
        self.bytes = Fuzzer(seed, cast(Any, SimpleNamespace(web_secret="s3cret")))
        self.login_form = login_form

    def fields(self) -> dict[str, str]:
        """A real request's fields (authorize parameters or the login form), some mangled."""
        r = self.random
        base = (
            dict(self.login_form)
            if r.random() < 0.5
            else authorize_params(r.choice(["spa", "third", "nobody"]), challenge=new_verifier()[1])
        )
        for _ in range(r.randint(0, 3)):
            name = r.choice(FIELDS)
            choice = r.random()
            if choice < 0.3:
                base.pop(name, None)
            else:
                base[name] = self.bytes.nasty()[:3000].decode("utf-8", "replace")
        return base

    def encoded(self, fields: dict[str, str]) -> str:
        text = urlencode(fields)
        r = self.random
        if r.random() < 0.15:
            name = r.choice(FIELDS)
            text += f"&{name}=a&{name}=b"  # repeated
        if r.random() < 0.1:
            text += "&%ZZ=%"  # broken percent-encoding
        if r.random() < 0.1:
            text += "&" + quote_from_bytes(self.bytes.nasty()[:200]) + "=x"
        return text

    def request(self) -> tuple[str, str, dict[str, bytes], bytes]:
        r = self.random
        path, usual = r.choice(PAGES)
        method = usual if r.random() < 0.85 else r.choice(METHODS)
        headers: dict[str, str] = {}
        body = b""
        if method == "GET" or r.random() < 0.1:
            path += "?" + self.encoded(self.fields())[:20_000]
        if method != "GET":
            body = self.encoded(self.fields()).encode() if r.random() < 0.8 else self.bytes.body()
            content_type = (
                "application/x-www-form-urlencoded" if r.random() < 0.7 else r.choice(CONTENT_TYPES)
            )
            if content_type is not None:
                headers["Content-Type"] = content_type
        if r.random() < 0.2:
            garbage = self.bytes.nasty()[:300].decode("latin-1")
            headers["Cookie"] = f"issuer_session={garbage}; issuer_csrf={garbage[::-1]}"
        raw = {
            name: value.encode("latin-1", "replace").translate(None, CONTROLS).strip(b" \t")
            for name, value in headers.items()
        }
        return method, path, raw, body


def problems(method: str, response: httpx.Response) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:300]}"
    if status in (302, 303):
        location = response.headers["location"]
        if not any(location.split("?")[0] == uri for uri in REGISTERED):
            return f"redirect to {location[:200]}"
    if status >= 400 and method != "HEAD":
        if not response.headers.get("content-type", "").startswith("text/html"):
            return f"{status} not an HTML page: {response.text[:200]!r}"
        if response.headers.get("cache-control") != "no-store":
            return f"{status} without no-store"
    return None


async def test_no_hostile_page_request_gets_a_server_error_or_a_foreign_redirect(
    site: Site,
) -> None:
    login, _ = (
        await site.browser.get(
            "/oauth/authorize", params=authorize_params(challenge=new_verifier()[1])
        ),
        None,
    )
    fuzzer = PageFuzzer(seed=12, login_form=the_form(login)[1])
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    limit = asyncio.Semaphore(6)

    async def send(shape: tuple[str, str, dict[str, bytes], bytes]) -> None:
        method, path, headers, body = shape
        async with limit:
            response = await site.browser.request(method, path, headers=headers, content=body)
        statuses[response.status_code] += 1
        problem = problems(method, response)
        if problem is not None:
            failures.append(f"{method} {path[:100]} {body[:100]!r}: {problem}")

    await asyncio.gather(*(send(fuzzer.request()) for _ in range(REQUESTS)))
    assert failures == [], (len(failures), failures[:10], statuses)
    # Far enough past the front door: pages, redirects back and refusals all came up.
    assert statuses[200] > 0 and statuses[400] > 0, statuses
    assert statuses[302] + statuses[303] > 0 and statuses[403] > 0, statuses
