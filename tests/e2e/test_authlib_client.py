"""Authlib's OpenID Connect client, unmodified and configured by discovery alone
(`server_metadata_url`), logs a user in through the hosted page in a real browser: PKCE,
the code exchange with client_secret_basic, the ID token validated by Authlib (signature
from the JWKS, iss, aud, exp, nonce, at_hash), UserInfo, and RP-initiated logout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.errors import InvalidClaimError
from playwright.sync_api import Page

from examples.login_app.oauth import register_issuer
from tests.e2e.flow import EMAIL, World, at, sign_in

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Authlib's async client, run to completion on a loop of its own in another thread
    (Playwright's sync API keeps an event loop running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def test_authlib_logs_in_validates_the_id_token_and_logs_out(world: World, page: Page) -> None:
    app = world.second  # confidential: Authlib authenticates with client_secret_basic
    client = register_issuer(world.issuer.url, app.client_id, app.secret, scope="openid email")

    authorization = run(client.create_authorization_url(app.redirect_uri))
    sent = parse_qs(urlsplit(authorization["url"]).query)
    assert sent["code_challenge_method"] == ["S256"]
    assert sent["nonce"] == [authorization["nonce"]]

    page.goto(authorization["url"])
    sign_in(page)
    page.wait_for_url(at(app.redirect_uri))
    query = world.loopback.last(urlsplit(app.redirect_uri).path)
    assert query["state"] == authorization["state"]
    assert query["iss"] == client.server_metadata["issuer"]

    token = run(
        client.fetch_access_token(
            app.redirect_uri, code=query["code"], code_verifier=authorization["code_verifier"]
        )
    )
    claims = run(client.parse_id_token(token, nonce=authorization["nonce"]))
    assert claims["aud"] == app.client_id
    assert claims["email"] == EMAIL
    userinfo = run(client.userinfo(token=token))
    assert (userinfo["sub"], userinfo["email"]) == (claims["sub"], EMAIL)

    # Authlib really checks: the same ID token with another request's nonce is refused.
    with pytest.raises(InvalidClaimError):
        run(client.parse_id_token(token, nonce="another request's nonce"))

    logout = run(
        client.create_logout_url(
            post_logout_redirect_uri=app.post_logout_redirect_uri, id_token_hint=token["id_token"]
        )
    )
    page.goto(logout["url"])
    page.wait_for_url(at(app.post_logout_redirect_uri))
    assert (
        world.loopback.last(urlsplit(app.post_logout_redirect_uri).path)["state"]
        == (logout["state"])
    )
