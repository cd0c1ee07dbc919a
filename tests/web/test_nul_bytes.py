"""A NUL in any protocol parameter is a 400 invalid_request, refused before the database.

Postgres text cannot hold a NUL: before, such a value reached the database and answered 500
(issue 11.6). Run on both databases; Postgres is where it failed.
"""

from __future__ import annotations

import logging

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import PASSWORD, add_client, add_user, login, post_form

Client = AsyncTestClient[Litestar]


async def _assert_invalid_request(response: object) -> None:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    assert response.json()["error"] == "invalid_request"  # type: ignore[attr-defined]


async def test_nul_in_body_or_basic_credentials_is_invalid_request(
    client: Client, runtime: Runtime, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    secret = await add_client(database, runtime, "web")
    await add_user(database, runtime)
    caplog.set_level(logging.DEBUG)
    cases = [
        ("/oauth/token", {"grant_type": "client_credentials", "client_id": "we\0b"}, None),
        ("/oauth/token", {"grant_type": "client_credentials"}, ("we\0b", "x")),
        ("/oauth/token", {"grant_type": "client_credentials"}, ("web", "s\0")),
        ("/oauth/revoke", {"token": "abc\0"}, ("web", secret)),
        ("/oauth/introspect", {"token": "abc\0"}, ("web", secret)),
        ("/oauth/introspect", {"token": "abc", "client_id": "\0"}, None),
    ]
    for path, data, auth in cases:
        await _assert_invalid_request(await post_form(client, path, data, auth=auth))
    for username, password in (("ada\0@example.com", PASSWORD), ("ada@example.com", "p\0")):
        await _assert_invalid_request(
            await login(client, secret, username=username, password=password)
        )
    assert not [r for r in caplog.records if r.exc_info], "no traceback for bad input"
    # The same client and user still work: nothing was stored or throttled by the refusals.
    assert (await login(client, secret)).status_code == 200
