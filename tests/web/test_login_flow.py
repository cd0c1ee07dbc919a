"""The whole login in a browser's shoes, over HTTP (issue 12), on both databases:
authorize → login page → consent → 303 with a code → token exchange (PKCE) → userinfo →
SSO into a second client → logout, which ends the session and its refresh families."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import pytest

from issuer.settings import Settings
from tests.oauth.login_support import POST_LOGOUT_URI, REDIRECT_URI, query_of
from tests.oauth.support import post_form
from tests.web.pages_support import THIRD_URI, Site, authorize, serving, submit, the_form
from tests.web.test_login_pages import ISSUER, assert_redirect


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as served:
        yield served


async def exchange(site: Site, code: str, verifier: str, client_id: str, redirect_uri: str) -> dict:
    response = await post_form(
        site.browser,
        "/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict = response.json()
    return body


async def test_log_in_consent_exchange_userinfo_sso_and_log_out(site: Site) -> None:
    # 1. The third-party client sends the browser to the authorization endpoint.
    page, verifier = await authorize(
        site.browser, client_id="third", redirect_uri=THIRD_URI, scope="openid email read"
    )
    assert the_form(page)[0] == "/oauth/login"
    # 2. The user signs in, 3. allows the client.
    consent = await site.log_in(page)
    assert the_form(consent)[0] == "/oauth/consent"
    callback = await submit(site.browser, consent, decision="allow")
    assert callback.status_code == 303
    query = assert_redirect(callback, THIRD_URI)
    assert query["state"] == "st-1"

    # 4. The client exchanges the code with its PKCE verifier.
    tokens = await exchange(site, query["code"], verifier, "third", THIRD_URI)
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("rt_")
    claims = site.runtime.server.ring().verify(tokens["id_token"], typ="jwt")
    assert claims["iss"] == ISSUER and claims["aud"] == "third"
    assert claims["sub"] == site.user_id and claims["nonce"] == "n-1"
    assert claims["email"] == "ada@example.com"
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["auth_time"] == int(site.clock().timestamp())
    # A code is good once.
    replay = await post_form(
        site.browser,
        "/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": THIRD_URI,
            "code_verifier": verifier,
            "client_id": "third",
        },
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    # 5. UserInfo answers for the access token of a fresh login (the replay revoked the first).
    page, verifier = await authorize(
        site.browser, client_id="third", redirect_uri=THIRD_URI, scope="openid email read"
    )
    again = assert_redirect(page, THIRD_URI)  # consent remembered, session present: no page
    assert page.status_code == 302
    tokens = await exchange(site, again["code"], verifier, "third", THIRD_URI)
    userinfo = await site.browser.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == site.user_id
    assert userinfo.json()["email"] == "ada@example.com"

    # 6. SSO: the first-party client gets a code without any page.
    sso, spa_verifier = await authorize(site.browser)
    assert sso.status_code == 302
    spa_tokens = await exchange(
        site, assert_redirect(sso)["code"], spa_verifier, "spa", REDIRECT_URI
    )
    spa_claims = site.runtime.server.ring().verify(spa_tokens["id_token"], typ="jwt")
    assert spa_claims["sid"] == claims["sid"]  # one browser session
    assert spa_claims["auth_time"] == claims["auth_time"]

    # 7. The first-party client logs the user out with its ID token as the hint.
    site.clock.advance(10)
    logout = await site.browser.get(
        "/oauth/logout",
        params={
            "id_token_hint": spa_tokens["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye",
        },
    )
    assert logout.status_code == 302
    assert logout.headers["location"] == f"{POST_LOGOUT_URI}?state=bye"
    # Every refresh family started in the session is revoked, both clients'.
    for client_id, refresh_token in (
        ("third", tokens["refresh_token"]),
        ("spa", spa_tokens["refresh_token"]),
    ):
        refreshed = await post_form(
            site.browser,
            "/oauth/token",
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    # And the browser is signed out.
    silent, _ = await authorize(site.browser, prompt="none")
    assert query_of(silent.headers["location"])["error"] == "login_required"
