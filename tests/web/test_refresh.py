"""Refresh rotation over HTTP: successors, reuse detection committed before the error,
failed refreshes that change nothing, the grace period, family lifetime."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.metrics import REFRESH_REUSE
from issuer.oauth import handles
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import audit, families, users
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import (
    MovableClock,
    add_client,
    add_refresh_token,
    add_user,
    family_is_live,
    login,
    post_form,
    refresh,
    serving,
    store_family,
    stored_family,
    stored_refresh_token,
)

# Through PgBouncer in transaction mode as well (issue 13).
pytestmark = pytest.mark.through_pgbouncer

Client = AsyncTestClient[Litestar]


async def logged_in(client: Client, runtime: Runtime, database: Database) -> tuple[str, Any]:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    assert secret is not None
    body = (await login(client, secret)).json()
    return secret, body


async def sid_of(database: Database, token: str) -> str:
    return (await stored_refresh_token(database, token))[1].id


async def test_refresh_rotates_within_the_family(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, first = await logged_in(client, runtime, database)
    token = first["refresh_token"]
    for _ in range(3):
        response = await refresh(client, secret, token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["refresh_token"] != token and body["scope"] == "read write"
        assert await sid_of(database, body["refresh_token"]) == await sid_of(database, token)
        access = runtime.keys.ring.verify(body["access_token"], typ="at+jwt")
        assert access["sid"] == await sid_of(database, token) and access["roles"] == ["reader"]
        token = body["refresh_token"]


async def test_reused_refresh_token_revokes_the_family_before_answering(
    database_url: str, database: Database, tmp_path: Any
) -> None:
    # No grace window: the replay below comes right after the rotation (test_lost_response
    # has the default window, and reuse after it).
    no_grace = make_settings(database_url, tmp_path / "keys", ISSUER_REFRESH_GRACE_SECONDS=0)
    async with serving(no_grace) as (client, runtime):
        secret, first = await logged_in(client, runtime, database)
        old = first["refresh_token"]
        successor = (await refresh(client, secret, old)).json()
        before = REFRESH_REUSE._value.get()

        replay = await refresh(client, secret, old)

        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        assert REFRESH_REUSE._value.get() == before + 1
        # The revocation is committed: another connection sees it.
        family_id = await sid_of(database, old)
        async with database.session() as session:
            row = await stored_family(session, family_id)
            events = await audit.recent(session, action="family.reuse")
        assert row is not None and row.revoked_reason == "reuse" and row.revoked_at is not None
        assert [event.subject for event in events] == [family_id]
        # ... and the successor, the thief's or the client's, no longer works anywhere.
        assert (await refresh(client, secret, successor["refresh_token"])).status_code == 400
        userinfo = await client.get(
            "/userinfo", headers={"Authorization": f"Bearer {successor['access_token']}"}
        )
        assert userinfo.status_code == 401


async def test_a_failed_refresh_leaves_the_family_usable(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, first = await logged_in(client, runtime, database)
    token = first["refresh_token"]
    widened = await refresh(client, secret, token, scope="read write admin")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"
    wrong_target = await refresh(client, secret, token, audience="https://other.example.com")
    assert wrong_target.status_code == 400 and wrong_target.json()["error"] == "invalid_target"
    # The token was not consumed by those failures: it still rotates, once.
    assert (await refresh(client, secret, token)).status_code == 200


async def test_scope_may_be_narrowed_but_the_grant_keeps_its_scope(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, first = await logged_in(client, runtime, database)
    narrowed = (await refresh(client, secret, first["refresh_token"], scope="read")).json()
    assert narrowed["scope"] == "read"
    again = (await refresh(client, secret, narrowed["refresh_token"])).json()
    assert again["scope"] == "read write"  # RFC 6749 §6: omitted = originally granted


async def test_another_clients_refresh_token_is_invalid_grant_and_changes_nothing(
    client: Client, runtime: Runtime, database: Database
) -> None:
    _, first = await logged_in(client, runtime, database)
    other = await add_client(database, runtime, "other")
    stolen = await refresh(client, other, first["refresh_token"], client_id="other")
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    async with database.session() as session:
        assert await family_is_live(
            session, await sid_of(database, first["refresh_token"]), now=runtime.clock()
        )


async def test_an_access_token_is_not_a_refresh_token(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, first = await logged_in(client, runtime, database)
    response = await refresh(client, secret, first["access_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_revoked_family_is_invalid_grant_without_reuse(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, first = await logged_in(client, runtime, database)
    family_id = await sid_of(database, first["refresh_token"])
    async with database.session() as session:
        await families.revoke(session, family_id, reason="logout", now=runtime.clock())
    before = REFRESH_REUSE._value.get()
    response = await refresh(client, secret, first["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert REFRESH_REUSE._value.get() == before
    async with database.session() as session:
        row = await stored_family(session, family_id)
    assert row is not None and row.revoked_reason == "logout"


async def test_disabled_user_cannot_refresh_and_the_family_ends(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, first = await logged_in(client, runtime, database)
    sub = runtime.keys.ring.verify(first["access_token"], typ="at+jwt")["sub"]
    async with database.session() as session:
        await users.set_disabled(session, sub, True)
    response = await refresh(client, secret, first["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    async with database.session() as session:
        row = await stored_family(session, await sid_of(database, first["refresh_token"]))
    assert row is not None and row.revoked_reason == "user_disabled"


async def test_refresh_tokens_expire_and_the_family_has_an_absolute_lifetime(
    database_url: str, database: Database, tmp_path: Any
) -> None:
    settings = make_settings(
        database_url,
        tmp_path / "keys",
        ISSUER_REFRESH_TOKEN_TTL=100,
        ISSUER_FAMILY_LIFETIME=150,
    )
    clock = MovableClock()
    async with serving(settings, clock) as (client, runtime):
        secret, first = await logged_in(client, runtime, database)
        clock.advance(90)
        second = (await refresh(client, secret, first["refresh_token"])).json()
        stored, _ = await stored_refresh_token(database, second["refresh_token"])
        # Capped by the family's absolute lifetime, not the token's own 100 s.
        assert (stored.expires_at - stored.issued_at).total_seconds() == 60
        clock.advance(61)
        expired = await refresh(client, secret, second["refresh_token"])
        assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


async def grace_settings(database_url: str, tmp_path: Any) -> Settings:
    return make_settings(database_url, tmp_path / "keys", ISSUER_REFRESH_GRACE_SECONDS=30)


async def test_grace_replay_gets_the_same_successor(
    database_url: str, database: Database, tmp_path: Any
) -> None:
    clock = MovableClock()
    async with serving(await grace_settings(database_url, tmp_path), clock) as (client, runtime):
        secret, first = await logged_in(client, runtime, database)
        a = (await refresh(client, secret, first["refresh_token"])).json()
        clock.advance(5)
        b = await refresh(client, secret, first["refresh_token"])
        assert b.status_code == 200, b.text
        # The very same token (derived again from the consumed one).
        assert b.json()["refresh_token"] == a["refresh_token"]
        # Past the window, the replay is reuse.
        clock.advance(30)
        late = await refresh(client, secret, first["refresh_token"])
        assert late.status_code == 400
        async with database.session() as session:
            row = await stored_family(session, await sid_of(database, first["refresh_token"]))
        assert row is not None and row.revoked_reason == "reuse"


async def test_grace_never_hands_out_an_older_token(
    database_url: str, database: Database, tmp_path: Any
) -> None:
    clock = MovableClock()
    async with serving(await grace_settings(database_url, tmp_path), clock) as (client, runtime):
        secret, first = await logged_in(client, runtime, database)
        second = (await refresh(client, secret, first["refresh_token"])).json()
        third = (await refresh(client, secret, second["refresh_token"])).json()
        assert third["refresh_token"]
        # The first token's successor is already used: replaying it is reuse, in the window.
        replay = await refresh(client, secret, first["refresh_token"])
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert (await refresh(client, secret, third["refresh_token"])).status_code == 400


async def test_public_client_refreshes_with_its_client_id(
    client: Client, runtime: Runtime, database: Database
) -> None:
    user_id = await add_user(database, runtime)
    await add_client(database, runtime, "spa", grant_types=["refresh_token"], public=True)
    now = runtime.clock()
    async with database.session() as session:
        await store_family(
            session,
            family_id="fam-spa",
            user_id=user_id,
            client_id="spa",
            scope="read",
            audience="https://api.example.com",
            now=now,
            expires_at=now.replace(year=now.year + 1),
        )
    minter_token = handles.new_refresh_token()
    async with database.session() as session:
        await add_refresh_token(
            session,
            jti=handles.digest(minter_token),
            family_id="fam-spa",
            scope="read",
            now=now,
            expires_at=now.replace(year=now.year + 1),
        )
    data = {"grant_type": "refresh_token", "refresh_token": minter_token, "client_id": "spa"}
    response = await post_form(client, "/oauth/token", data)
    assert response.status_code == 200, response.text
