"""The statements a login from a present browser session costs on Postgres (what the
bench's `code` scenario measures): an authorization is one, storing the code from the live
session it names; the exchange of the code is one, consuming it with every check it is bound
to (and, for a client that may refresh, starting its refresh family). Each goes straight to
asyncpg (`Database.fetch_one`): no ORM session, no BEGIN, COMMIT or pool pre-ping around
it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from issuer.settings import Settings
from issuer.store import authorization_codes
from issuer.store.database import Statement
from tests.oauth.login_support import add_login_client, query_of
from tests.web.pages_support import Site, authorize, serving

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as site:
        yield site


@pytest.mark.parametrize(
    ("grant_types", "exchange"),
    [
        (("authorization_code",), authorization_codes.CONSUME),
        (("authorization_code", "refresh_token"), authorization_codes.CONSUME_AND_LOG_IN),
    ],
)
async def test_a_login_from_a_present_session_is_two_statements(
    site: Site, grant_types: tuple[str, ...], exchange: Statement
) -> None:
    database = site.runtime.database
    database._pool_size = 1  # one connection, so the logger below sees every query
    await add_login_client(database, site.clock(), "app", grant_types=grant_types)
    page, _ = await authorize(site.browser, client_id="app")
    assert "issuer_session" not in site.browser.cookies
    assert (await site.log_in(page)).status_code == 303  # the session; the client cached

    queries: list[str] = []
    orm: list[str] = []
    pool = database._open_statement_pool()
    async with pool.acquire() as connection:
        connection.add_query_logger(lambda record: queries.append(record.query))
    event.listen(database.engine.sync_engine, "before_cursor_execute", lambda *a: orm.append(a[2]))

    redirect, verifier = await authorize(site.browser, client_id="app")
    assert redirect.status_code == 302, redirect.text
    await asyncio.sleep(0)  # asyncpg calls query loggers on the loop's next turn
    assert queries == [authorization_codes.STORE.positional]
    queries.clear()
    answer = query_of(redirect.headers["location"])
    exchanged = await site.browser.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": "https://app.example.com/callback",
            "client_id": "app",
            "code_verifier": verifier,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    assert {"access_token", "id_token"} <= set(exchanged.json())
    assert ("refresh_token" in exchanged.json()) == ("refresh_token" in grant_types)
    await asyncio.sleep(0)
    assert queries == [exchange.positional]
    assert orm == []
    if "refresh_token" in grant_types:
        refreshed = await site.browser.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": exchanged.json()["refresh_token"],
                "client_id": "app",
            },
        )
        assert refreshed.status_code == 200, refreshed.text
