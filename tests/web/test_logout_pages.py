"""RP-Initiated Logout 1.0 at the hosted pages over HTTP (issue 12): with and without an
id_token_hint, the confirmation page and its CSRF, registered targets only — both databases."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from issuer.settings import Settings
from tests.oauth.login_support import POST_LOGOUT_URI
from tests.web.conftest import admin_rows, sign_access_token
from tests.web.pages_support import (
    THIRD_LOGOUT_URI,
    THIRD_URI,
    Site,
    authorize,
    serving,
    submit,
    the_form,
)
from tests.web.test_login_pages import (
    ISSUER,
    assert_error_page,
    assert_page_headers,
    assert_redirect,
    set_cookies,
)


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as served:
        await served.log_in((await authorize(served.browser))[0])
        yield served


def id_token(site: Site, *, sub: str | None = None, aud: str = "spa", **claims: Any) -> str:
    """An ID token as the token endpoint signs it (typ JWT); expired, which a hint may be."""
    now = int(site.clock().timestamp())
    payload = {
        "iss": ISSUER,
        "sub": sub or site.user_id,
        "aud": aud,
        "iat": now - 7200,
        "exp": now - 3600,
        "sid": secrets.token_hex(8),
        **claims,
    }
    return site.runtime.server.ring().sign(payload, typ="JWT", alg="RS256")


async def assert_logged_out(site: Site, response: httpx.Response) -> None:
    """The session cookie is cleared and the session is over at the issuer."""
    cleared = set_cookies(response)["issuer_session"]
    assert cleared.startswith('issuer_session="";') and "Max-Age=0" in cleared
    site.browser.cookies.delete("issuer_session")
    # A cookie kept by a browser that ignored the clearing still finds no session.
    silent, _ = await authorize(site.browser, prompt="none")
    assert assert_redirect(silent)["error"] == "login_required"


async def test_a_hint_for_the_sessions_user_logs_out_and_redirects_with_state(site: Site) -> None:
    cookie = site.browser.cookies["issuer_session"]
    for method in ("GET", "POST"):
        params = {
            "id_token_hint": id_token(site),
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye-1",
        }
        if method == "GET":
            response = await site.browser.get("/oauth/logout", params=params)
        else:
            response = await site.browser.post("/oauth/logout", data=params)
        assert response.status_code == (302 if method == "GET" else 303)
        assert response.headers["location"] == f"{POST_LOGOUT_URI}?state=bye-1"
        assert_page_headers(response, form_target="https://app.example.com")
        if method == "GET":
            site.browser.cookies.set("issuer_session", cookie, domain="127.0.0.1")
            await assert_logged_out(site, response)


async def test_without_a_hint_the_user_confirms_first(site: Site) -> None:
    page = await site.browser.get(
        "/oauth/logout",
        params={"client_id": "third", "post_logout_redirect_uri": THIRD_LOGOUT_URI, "state": "s"},
    )
    assert page.status_code == 200
    assert_page_headers(page, form_target="https://third.example.net")
    assert "Third Party" in page.text and "Sign out?" in page.text
    action, fields = the_form(page)
    assert action == "/oauth/logout/confirm" and set(fields) == {"csrf_token", "pending"}
    # Nothing ended yet.
    still, _ = await authorize(site.browser, prompt="none")
    assert "code" in assert_redirect(still)
    confirmed = await submit(site.browser, page)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"{THIRD_LOGOUT_URI}?state=s"
    await assert_logged_out(site, confirmed)


async def test_a_hint_for_another_user_asks_to_confirm(site: Site) -> None:
    page = await site.browser.get(
        "/oauth/logout", params={"id_token_hint": id_token(site, sub="u-someone-else")}
    )
    assert page.status_code == 200 and the_form(page)[0] == "/oauth/logout/confirm"


async def test_confirmed_without_a_target_shows_the_signed_out_page(site: Site) -> None:
    page = await site.browser.get("/oauth/logout")
    done = await submit(site.browser, page)
    assert done.status_code == 200 and "Signed out" in done.text
    assert "location" not in done.headers
    assert_page_headers(done)
    await assert_logged_out(site, done)


async def test_logout_without_a_session_needs_no_confirmation(site: Site) -> None:
    site.browser.cookies.delete("issuer_session")
    response = await site.browser.get(
        "/oauth/logout", params={"client_id": "spa", "post_logout_redirect_uri": POST_LOGOUT_URI}
    )
    assert response.status_code == 302 and response.headers["location"] == POST_LOGOUT_URI
    plain = await site.browser.get("/oauth/logout")
    assert plain.status_code == 200 and "Signed out" in plain.text


async def test_the_confirmation_needs_its_csrf_pair_and_its_sealed_request(site: Site) -> None:
    page = await site.browser.get("/oauth/logout")
    action, fields = the_form(page)
    forged = await site.browser.post(action, data={**fields, "csrf_token": "x" * 43})
    assert_error_page(forged, 403, "was not sent from this site")
    login_page, _ = await authorize(site.browser, prompt="login")
    swapped = await site.browser.post(
        action, data={**fields, "pending": the_form(login_page)[1]["pending"]}
    )
    assert_error_page(swapped, 400, "missing, altered or too old")
    # The session is still there.
    still, _ = await authorize(site.browser, prompt="none")
    assert "code" in assert_redirect(still)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"client_id": "spa", "post_logout_redirect_uri": "https://evil.example.com/"},
            "not registered",
        ),
        ({"client_id": "spa", "post_logout_redirect_uri": THIRD_LOGOUT_URI}, "not registered"),
        ({"post_logout_redirect_uri": POST_LOGOUT_URI}, "needs id_token_hint or client_id"),
        ({"client_id": "nobody"}, "unknown client"),
        ({"id_token_hint": "not-a-token"}, "not an ID token of this issuer"),
        ({"id_token_hint": "HINT", "client_id": "third"}, "does not match"),
    ],
)
async def test_a_bad_logout_request_is_an_error_page_never_a_redirect(
    site: Site, params: dict[str, str], message: str
) -> None:
    if params.get("id_token_hint") == "HINT":
        params = {**params, "id_token_hint": id_token(site)}
    response = await site.browser.get("/oauth/logout", params=params)
    assert_error_page(response, 400, message)
    still, _ = await authorize(site.browser, prompt="none")
    assert "code" in assert_redirect(still)


async def test_a_hint_signed_by_someone_else_is_refused(site: Site) -> None:
    token = id_token(site)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = await site.browser.get("/oauth/logout", params={"id_token_hint": forged})
    assert_error_page(response, 400, "not an ID token of this issuer")


async def test_an_admin_ending_the_users_sessions_signs_the_browser_out(site: Site) -> None:
    await admin_rows(site.runtime.database, site.runtime)
    admin = {"Authorization": f"Bearer {sign_access_token(site.runtime, roles=['admin'])}"}
    ended = await site.browser.post(f"/admin/users/{site.user_id}/revoke-sessions", headers=admin)
    assert ended.status_code == 200, ended.text
    silent, _ = await authorize(site.browser, prompt="none")
    assert assert_redirect(silent)["error"] == "login_required"
    page, _ = await authorize(site.browser)
    assert the_form(page)[0] == "/oauth/login"


async def test_revoked_consents_are_asked_for_again(site: Site) -> None:
    page, _ = await authorize(site.browser, client_id="third", redirect_uri=THIRD_URI)
    await submit(site.browser, page, decision="allow")
    await admin_rows(site.runtime.database, site.runtime)
    admin = {"Authorization": f"Bearer {sign_access_token(site.runtime, roles=['admin'])}"}
    revoked = await site.browser.post(
        f"/admin/users/{site.user_id}/revoke-consents", headers=admin, json={"client_id": "third"}
    )
    assert revoked.status_code == 200, revoked.text
    again, _ = await authorize(site.browser, client_id="third", redirect_uri=THIRD_URI)
    assert again.status_code == 200 and the_form(again)[0] == "/oauth/consent"
