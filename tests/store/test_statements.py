"""The one-round-trip statements of the hot paths, on both databases."""

import asyncio
import re
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import event

from issuer.store import denylist, families, token_state, users
from issuer.store.database import Database, Statement
from tests.store.test_families import LATER, NOW, a_family


def test_named_parameters_become_numbered_ones_once_each() -> None:
    statement = Statement("SELECT :b, x::text FROM t WHERE a = :a AND c = :b AND d > :now")
    assert statement.positional == "SELECT $1, x::text FROM t WHERE a = $2 AND c = $1 AND d > $3"
    assert statement.names == ("b", "a", "now")


def test_rotate_is_one_statement_of_data_modifying_ctes_with_numbered_parameters() -> None:
    sql = " ".join(families.ROTATE.positional.split())
    assert sql.startswith("WITH consumed AS (UPDATE refresh_tokens SET used_at=$2")
    assert "successor AS (INSERT INTO refresh_tokens (jti, family_id, scope, issued_at, " in sql
    assert "least($3::TIMESTAMP WITH TIME ZONE, refresh_families.expires_at)" in sql
    # The rules: an unused, unexpired token of a live family of this client, user enabled.
    for rule in (
        "refresh_tokens.used_at IS NULL",
        "refresh_tokens.expires_at > $2",
        "refresh_families.revoked_at IS NULL",
        "refresh_families.expires_at > $2",
        "users.disabled IS false",
        "refresh_families.client_id = $5",
    ):
        assert rule in sql, rule
    assert families.ROTATE.names == ("successor", "now", "until", "presented", "client")
    assert sorted(set(re.findall(r"\$(\d+)", sql)), key=int) == ["1", "2", "3", "4", "5"]
    assert ":" not in sql.replace("::", "")  # no named parameter left for asyncpg to choke on


def test_every_core_statement_is_compiled_once_with_its_names() -> None:
    for statement in (families.START_LOGIN, families.LIVE_REFRESH_TOKEN, families.GRANTED):
        numbers = {int(n) for n in re.findall(r"\$(\d+)", statement.positional)}
        assert numbers == set(range(1, len(statement.names) + 1))
    assert token_state.ACCESS_TOKEN_STATE.names == ("jti", "sid", "now", "sub", "client_id")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_rotate_on_postgres_is_one_round_trip(database: Database) -> None:
    await a_family(database)
    queries: list[str] = []
    orm: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute", lambda *a: orm.append(a[2]))
    database._pool_size = 1  # one connection, so the logger below sees every query
    pool = database._open_statement_pool()
    async with pool.acquire() as connection:
        assert isinstance(connection, asyncpg.Connection)
        connection.add_query_logger(lambda record: queries.append(record.query))
    rotated = await families.rotate(
        database, "t1", client_id="app", successor_jti="t2", now=NOW, expires_at=LATER
    )
    await asyncio.sleep(0)  # asyncpg calls query loggers on the loop's next turn
    assert rotated is not None and rotated.jti == "t2"
    assert queries == [families.ROTATE.positional] and orm == []


async def test_rotate_consumes_once_and_stores_the_successor(database: Database) -> None:
    sub = await a_family(database)
    first = await families.rotate(
        database, "t1", client_id="app", successor_jti="t2", now=NOW, expires_at=LATER
    )
    assert first is not None
    assert (first.family_id, first.user_id, first.jti, first.scope) == ("fam", sub, "t2", "a b")
    assert first.audience == "api" and first.issued_at == NOW and first.expires_at == LATER
    again = await families.rotate(
        database, "t1", client_id="app", successor_jti="t3", now=NOW, expires_at=LATER
    )
    assert again is None
    async with database.session() as session:
        found = await families.find_token(session, "t2")
        assert found is not None and found[0].used_at is None
        assert await families.find_token(session, "t3") is None


async def test_rotate_caps_the_successor_at_the_family_lifetime(database: Database) -> None:
    await a_family(database)
    rotated = await families.rotate(
        database,
        "t1",
        client_id="app",
        successor_jti="t2",
        now=NOW,
        expires_at=LATER + timedelta(days=30),
    )
    assert rotated is not None and rotated.expires_at == LATER


@pytest.mark.parametrize("case", ["other client", "disabled user", "revoked family"])
async def test_rotate_changes_nothing_when_it_may_not(database: Database, case: str) -> None:
    sub = await a_family(database)
    client_id = "someone-else" if case == "other client" else "app"
    async with database.session() as session:
        if case == "disabled user":
            await users.set_disabled(session, sub, True)
        if case == "revoked family":
            await families.revoke(session, "fam", reason="test", now=NOW)
    rotated = await families.rotate(
        database, "t1", client_id=client_id, successor_jti="t2", now=NOW, expires_at=LATER
    )
    assert rotated is None
    async with database.session() as session:
        found = await families.find_token(session, "t1")
        assert found is not None and found[0].used_at is None and found[0].successor_jti is None
        assert await families.find_token(session, "t2") is None


async def test_start_login_stores_the_family_and_its_first_token(database: Database) -> None:
    sub = await a_family(database)
    assert await families.live_refresh_token(database, "t1", client_id="app", now=NOW)
    await families.start_login(
        database,
        family_id="fam2",
        user_id=sub,
        client_id="app",
        scope="a",
        audience="api",
        now=NOW,
        family_expires_at=LATER,
        jti="login-1",
        expires_at=NOW + timedelta(hours=1),
    )
    async with database.session() as session:
        found = await families.find_token(session, "login-1")
    assert found is not None
    token, family = found
    assert (family.id, family.user_id, family.client_id, family.audience) == (
        "fam2",
        sub,
        "app",
        "api",
    )
    assert token.expires_at == NOW + timedelta(hours=1) and family.expires_at == LATER


async def test_login_user_by_case_insensitive_email(database: Database) -> None:
    sub = await a_family(database)
    found = await users.login_user(database, "U@Example.COM")
    assert found is not None and found.id == sub and found.password_hash.startswith("$argon2id$")
    assert found.disabled is False and isinstance(found.roles, tuple)
    assert await users.login_user(database, "nobody@example.com") is None


async def test_access_token_state_in_one_answer(database: Database) -> None:
    sub = await a_family(database)
    state = await token_state.access_token_state(database, jti="a1", sid="fam", sub=sub, now=NOW)
    assert not state.denied and state.family_live
    assert state.user is not None and state.user.id == sub and state.user.email == "u@example.com"
    async with database.session() as session:
        await denylist.add(session, "a1", until=LATER, now=NOW)
        await families.revoke(session, "fam", reason="test", now=NOW)
    state = await token_state.access_token_state(database, jti="a1", sid="fam", sub=sub, now=NOW)
    assert state.denied and not state.family_live
    # A client's token: no family, no user.
    state = await token_state.access_token_state(database, jti="a2", sid=None, sub="app", now=NOW)
    assert not state.denied and not state.family_live and state.user is None
    # Past the family's lifetime it is not live either.
    expired = await token_state.access_token_state(
        database, jti="a3", sid="fam", sub=sub, now=LATER + timedelta(seconds=1)
    )
    assert not expired.family_live
