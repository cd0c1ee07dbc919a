import asyncio
from datetime import UTC, datetime, timedelta

from issuer.accounts.clients import create_client
from issuer.accounts.users import create_user
from issuer.store import denylist, families
from issuer.store.database import Database

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


async def a_family(database: Database) -> str:
    async with database.session() as session:
        user = await create_user(session, email="u@example.com", password="pw", now=NOW, actor="t")
        await create_client(
            session,
            client_id="app",
            grant_types=["password", "refresh_token"],
            scopes=[],
            audiences=[],
            default_audience="http://127.0.0.1:8000",
            now=NOW,
            actor="t",
        )
        await families.start(
            session,
            family_id="fam",
            user_id=user.id,
            client_id="app",
            scope="a b",
            audience="api",
            now=NOW,
            expires_at=LATER,
        )
        await families.add_token(
            session, jti="t1", family_id="fam", scope="a b", now=NOW, expires_at=LATER
        )
    return user.id


async def test_a_token_is_consumed_once(database: Database) -> None:
    await a_family(database)
    async with database.session() as session:
        first = await families.consume(session, "t1", now=NOW)
    async with database.session() as session:
        second = await families.consume(session, "t1", now=NOW)
    assert first == families.Consumed(jti="t1", family_id="fam", scope="a b")
    assert second is None


async def test_concurrent_consumes_have_exactly_one_winner(database: Database) -> None:
    await a_family(database)

    async def attempt() -> families.Consumed | None:
        async with database.session() as session:
            return await families.consume(session, "t1", now=NOW)

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    assert sum(r is not None for r in results) == 1


async def test_no_consume_in_a_revoked_or_expired_family(database: Database) -> None:
    user_id = await a_family(database)
    async with database.session() as session:
        assert await families.consume(session, "t1", now=LATER) is None  # expired
        assert await families.revoke_for_user(session, user_id, reason="logout", now=NOW) == ["fam"]
        assert not await families.revoke(session, "fam", reason="again", now=NOW)
        assert await families.consume(session, "t1", now=NOW) is None
        assert not await families.is_live(session, "fam", now=NOW)
        found = await families.find_token(session, "t1")
    assert found is not None and found[1].revoked_reason == "logout"


async def test_denylist_add_is_idempotent_and_purged_after_expiry(database: Database) -> None:
    async with database.session() as session:
        await denylist.add(session, "a1", until=LATER, now=NOW)
        await denylist.add(session, "a1", until=LATER, now=NOW)
    async with database.session() as session:
        assert await denylist.contains(session, "a1")
        assert await denylist.purge_expired(session, now=LATER + timedelta(seconds=1)) == 1
        assert not await denylist.contains(session, "a1")
