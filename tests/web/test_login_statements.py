"""The statements a login from a present browser session costs on Postgres (what the
bench's `code` scenario measures): an authorization is two, one to read the session and one
to store the code; the exchange of the code is two, to read the code with its user and
whether its session has ended, and to consume it. Each goes straight to asyncpg
(`Database.fetch_one`): no ORM session, no BEGIN, COMMIT or pool pre-ping around it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from issuer.settings import Settings
from issuer.store import authorization_codes, browser_sessions
from tests.oauth.login_support import add_login_client, query_of
from tests.web.pages_support import Site, authorize, serving

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as site:
        yield site


async def test_a_login_from_a_present_session_is_four_statements(site: Site) -> None:
    database = site.runtime.database
    database._pool_size = 1  # one connection, so the logger below sees every query
    # A client that may not refresh: its exchange starts no refresh family.
    await add_login_client(database, site.clock(), "app", grant_types=("authorization_code",))
    page, _ = await authorize(site.browser, client_id="app")
    assert "issuer_session" not in site.browser.cookies
    assert (await site.log_in(page)).status_code == 303  # the session; the client cached

    queries: list[str] = []
    orm: list[str] = []
    pool = await database._open_pg_pool()
    async with pool.acquire() as connection:
        connection.add_query_logger(lambda record: queries.append(record.query))
    event.listen(database.engine.sync_engine, "before_cursor_execute", lambda *a: orm.append(a[2]))

    redirect, verifier = await authorize(site.browser, client_id="app")
    assert redirect.status_code == 302, redirect.text
    assert queries == [
        browser_sessions.LIVE_SESSION.positional,
        authorization_codes.STORE.positional,
    ]
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
    assert "refresh_token" not in exchanged.json()
    assert queries == [
        authorization_codes.FOR_EXCHANGE.positional,
        authorization_codes.CONSUME.positional,
    ]
    assert orm == []
