import asyncio
from datetime import UTC, datetime, timedelta

from issuer.accounts.clients import create_client
from issuer.accounts.users import create_user
from issuer.store import denylist, families, users
from issuer.store.database import Database
from tests.oauth.support import family_is_live, stored_family

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


async def a_family(database: Database) -> str:
    """User u@example.com, client "app", and family "fam" whose first token is "t1"."""
    async with database.session() as session:
        user = await create_user(
            session, email="u@example.com", password="password1", now=NOW, actor="t"
        )
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
    await families.start_login(
        database,
        family_id="fam",
        user_id=user.id,
        client_id="app",
        scope="a b",
        audience="api",
        now=NOW,
        family_expires_at=LATER,
        jti="t1",
        expires_at=LATER,
    )
    return user.id


async def rotate(database: Database, jti: str, successor: str, *, now: datetime = NOW):
    return await families.rotate(
        database, jti, client_id="app", successor_jti=successor, now=now, expires_at=LATER
    )


async def test_a_token_is_rotated_once(database: Database) -> None:
    await a_family(database)
    first = await rotate(database, "t1", "t2")
    second = await rotate(database, "t1", "t3")
    assert first is not None and (first.family_id, first.jti, first.scope) == ("fam", "t2", "a b")
    assert second is None


async def test_concurrent_rotations_of_one_token_have_exactly_one_winner(
    database: Database,
) -> None:
    await a_family(database)
    results = await asyncio.gather(*(rotate(database, "t1", f"s{n}") for n in range(12)))
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    async with database.session() as session:
        consumed = await families.find_token(session, "t1")
        assert consumed is not None and consumed[0].successor_jti == winners[0].jti
        # Only the winner's successor was stored.
        stored = [n for n in range(12) if await families.find_token(session, f"s{n}")]
    assert [f"s{n}" for n in stored] == [winners[0].jti]


async def test_no_rotation_in_a_revoked_or_expired_family(database: Database) -> None:
    user_id = await a_family(database)
    assert await rotate(database, "t1", "t2", now=LATER) is None  # expired
    async with database.session() as session:
        assert await families.revoke_for_user(session, user_id, reason="logout", now=NOW) == ["fam"]
        assert not await families.revoke(session, "fam", reason="again", now=NOW)
    assert await rotate(database, "t1", "t2") is None
    async with database.session() as session:
        assert not await family_is_live(session, "fam", now=NOW)
        found = await families.find_token(session, "t1")
    assert found is not None and found[1].revoked_reason == "logout"


async def test_a_disabled_users_family_and_tokens_are_not_live(database: Database) -> None:
    user_id = await a_family(database)
    live = await families.live_refresh_token(database, "t1", client_id="app", now=NOW)
    assert live is not None and (live.family_id, live.user_id, live.scope) == (
        "fam",
        user_id,
        "a b",
    )
    assert live.issued_at == NOW and live.expires_at == LATER
    assert not await families.live_refresh_token(database, "t1", client_id="other", now=NOW)
    async with database.session() as session:
        assert await family_is_live(session, "fam", now=NOW)
        await users.set_disabled(session, user_id, True)
    async with database.session() as session:
        assert not await family_is_live(session, "fam", now=NOW)
    assert not await families.live_refresh_token(database, "t1", client_id="app", now=NOW)


async def test_settling_a_reuse_commits_the_revocation_and_its_audit(database: Database) -> None:
    await a_family(database)
    assert await rotate(database, "t1", "t2") is not None
    outcome = await families.settle_failed_rotation(
        database, "t1", client_id="app", now=NOW, grace=timedelta(0), actor="client:app"
    )
    assert outcome == families.Refused(families.Refusal.REUSED, "fam")
    async with database.session() as session:
        row = await stored_family(session, "fam")
    assert row is not None and row.revoked_reason == "reuse"


async def test_settling_within_the_grace_returns_the_same_successor(database: Database) -> None:
    await a_family(database)
    rotated = await rotate(database, "t1", "t2")
    grace = timedelta(seconds=30)
    replay = await families.settle_failed_rotation(
        database, "t1", client_id="app", now=NOW + grace, grace=grace, actor="client:app"
    )
    assert replay == rotated
    # Once the successor itself is used, the replay is reuse.
    assert await rotate(database, "t2", "t3") is not None
    reuse = await families.settle_failed_rotation(
        database, "t1", client_id="app", now=NOW, grace=grace, actor="client:app"
    )
    assert isinstance(reuse, families.Refused) and reuse.why is families.Refusal.REUSED


async def test_settling_says_why_nothing_was_rotated(database: Database) -> None:
    user_id = await a_family(database)

    async def why(jti: str, client_id: str = "app", now: datetime = NOW) -> object:
        outcome = await families.settle_failed_rotation(
            database, jti, client_id=client_id, now=now, grace=timedelta(0), actor="t"
        )
        assert isinstance(outcome, families.Refused)
        return outcome.why

    assert await why("nope") is families.Refusal.UNKNOWN
    assert await why("t1", client_id="other") is families.Refusal.OTHER_CLIENT
    assert await why("t1", now=LATER) is families.Refusal.EXPIRED
    async with database.session() as session:
        await users.set_disabled(session, user_id, True)
    assert await why("t1") is families.Refusal.USER_DISABLED
    assert await why("t1") is families.Refusal.REVOKED  # the previous answer revoked it


async def test_denylist_add_is_idempotent_and_purged_after_expiry(database: Database) -> None:
    async with database.session() as session:
        await denylist.add(session, "a1", until=LATER, now=NOW)
        await denylist.add(session, "a1", until=LATER, now=NOW)
    async with database.session() as session:
        assert await denylist.contains(session, "a1")
        # Kept past the token's expiry for longer than any leeway (issue 11.7).
        assert await denylist.purge_expired(session, now=LATER + timedelta(seconds=1)) == 0
        assert await denylist.purge_expired(session, now=LATER + denylist.RETAIN_PAST_EXPIRY) == 1
        assert not await denylist.contains(session, "a1")
