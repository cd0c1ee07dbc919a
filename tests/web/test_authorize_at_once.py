"""The authorization endpoint's GET from a present browser session, answered before routing
(`issuer.web.pages.authorize.authorize_at_once`): the same redirect, and the same headers, as
the routed handler's; every other request is left to the route."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from issuer.settings import Settings
from issuer.store import browser_sessions
from issuer.web.pages import authorize as authorize_module
from tests.oauth.login_support import query_of
from tests.web.pages_support import Site, authorize, serving


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as site:
        page, _ = await authorize(site.browser)
        assert (await site.log_in(page)).status_code == 303
        yield site


class PagesBuilt:
    """Counts the routed handler's pages (`Page`), which the bare answer never builds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = authorize_module.Page

        def counting(*args: object, **kwargs: object) -> object:
            self.count += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(authorize_module, "Page", counting)


async def test_a_get_with_a_live_session_is_answered_before_routing(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = PagesBuilt(monkeypatch)
    answered, _ = await authorize(site.browser)
    assert answered.status_code == 302 and pages.count == 0
    assert {"code", "state", "iss"} <= set(query_of(answered.headers["location"]))

    routed, _ = await authorize(site.browser, method="POST")  # POST: always the route
    assert routed.status_code == 303 and pages.count == 1

    def comparable(headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k not in ("location", "x-request-id")}

    assert comparable(dict(answered.headers)) == comparable(dict(routed.headers))
    assert answered.headers["content-length"] == "0" and answered.headers["x-request-id"]


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"prompt": "login"}, 200),  # needs the session: the login page
        ({"redirect_uri": "https://evil.example/cb"}, 400),  # an error page, no redirect
        ({"code_challenge_method": "plain"}, 302),  # an error redirect, from the route
    ],
)
async def test_what_needs_a_page_or_an_error_is_left_to_the_route(
    site: Site, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str], status: int
) -> None:
    pages = PagesBuilt(monkeypatch)
    response, _ = await authorize(site.browser, **overrides)
    assert response.status_code == status and pages.count == 1
    if status == 302:
        assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_no_cookie_or_an_ended_session_is_left_to_the_route(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = PagesBuilt(monkeypatch)
    site.browser.cookies.clear()
    page, _ = await authorize(site.browser)
    assert page.status_code == 200 and "password" in page.text and pages.count == 1
    assert (await site.log_in(page)).status_code == 303
    # The session ends elsewhere (an admin, another tab's logout): the cookie names nothing.
    async with site.runtime.database.session() as session:
        await browser_sessions.end_for_user(session, site.user_id, now=site.clock())
    pages.count = 0
    page, _ = await authorize(site.browser)
    assert page.status_code == 200 and "password" in page.text and pages.count == 1
