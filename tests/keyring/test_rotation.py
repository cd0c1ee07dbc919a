"""Rotation and revocation on the real databases: the lifecycle, its waits and its races."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from issuer.keyring.kek import load_kek
from issuer.keyring.lifecycle import ensure_initial_keys, load_ring
from issuer.keyring.rotation import (
    UNPUBLISH_MARGIN,
    KeyOperationError,
    publication_delay,
    purge_unpublished,
    revoke,
    rotate,
    rotate_if_due,
)
from issuer.settings import Settings
from issuer.store import audit, signing_keys
from issuer.store.database import Database
from issuer.store.models import Client, SigningKey
from tests.keyring.clock import ManualClock


@pytest.fixture
async def keyed(database: Database, settings: Settings) -> ManualClock:
    clock = ManualClock()
    await ensure_initial_keys(database, settings=settings, kek=load_kek(settings), now=clock())
    return clock


async def states(database: Database, alg: str) -> dict[str, list[str]]:
    async with database.session() as session:
        rows = [row for row in await signing_keys.all_keys(session) if row.alg == alg]
    by_state: dict[str, list[str]] = {}
    for row in rows:
        by_state.setdefault(row.state, []).append(row.kid)
    return by_state


@pytest.mark.parametrize(
    ("max_age", "refresh", "wait"),
    [
        ("300", "5", 305.0),  # the default: the max-age is the longer
        ("10", "5", 35.0),  # a short max-age: the verifiers' 30 s cool-down is
        ("0", "0.5", 30.5),
    ],
)
def test_the_promotion_wait_covers_max_age_and_the_verifiers_refetch_cool_down(
    max_age: str, refresh: str, wait: float
) -> None:
    env = {"ISSUER_JWKS_MAX_AGE": max_age, "ISSUER_RING_REFRESH_SECONDS": refresh}
    assert publication_delay(Settings.from_env(env)) == timedelta(seconds=wait)


async def test_rotation_waits_until_the_next_key_was_published_long_enough(
    database: Database, settings: Settings, keyed: ManualClock
) -> None:
    kek = load_kek(settings)
    before = await states(database, "RS256")
    keyed.advance(60)
    early = await rotate(
        database, settings=settings, kek=kek, alg="RS256", now=keyed(), actor="test"
    )
    assert early.outcome == "too_early" and not early.rotated
    assert early.wait == publication_delay(settings) - timedelta(seconds=60)
    assert early.too_early_until == keyed() + early.wait
    assert early.next == before["next"][0] and early.activated is None
    # The outcome says what happened; how to override it is the CLI's or the API's to say.
    assert "4m05s left" in early.summary and "force" not in early.summary
    assert await states(database, "RS256") == before

    keyed.advance(early.wait.total_seconds())
    done = await rotate(database, settings=settings, kek=kek, alg="RS256", now=keyed(), actor="t")
    assert done.rotated and done.risk is None
    after = await states(database, "RS256")
    assert after["active"] == before["next"] == [done.activated]
    assert after["retired"] == before["active"] == [done.retired]
    assert after["next"] == [done.next]
    async with database.session() as session:
        retired = await signing_keys.by_kid(session, before["active"][0])
        actions = {(e.action, e.subject) for e in await audit.recent(session)}
    assert retired is not None and retired.unpublish_after is not None
    # Keys sign access tokens only: the refresh lifetime (opaque tokens) plays no part.
    longest = timedelta(seconds=settings.access_token_ttl)
    assert settings.refresh_token_ttl > settings.access_token_ttl
    assert retired.unpublish_after == keyed() + longest + UNPUBLISH_MARGIN
    assert {
        ("key.retire", done.retired),
        ("key.activate", done.activated),
        ("key.create.next", done.next),
    } <= actions


async def test_force_rotates_at_once_and_says_what_it_risks(
    database: Database, settings: Settings, keyed: ManualClock
) -> None:
    result = await rotate(
        database,
        settings=settings,
        kek=load_kek(settings),
        alg="EdDSA",
        force=True,
        now=keyed(),
        actor="test",
    )
    assert result.rotated and result.risk is not None
    assert "unknown kid" in result.risk and result.activated in result.risk
    async with database.session() as session:
        [event] = await audit.recent(session, action="key.activate")
    assert event.detail["forced"] is True and event.actor == "test"


async def test_a_client_with_a_longer_token_lifetime_keeps_retired_keys_published_longer(
    database: Database, settings: Settings, keyed: ManualClock
) -> None:
    async with database.session() as session:
        # A longer refresh lifetime changes nothing (opaque); a longer access lifetime does.
        session.add(Client(client_id="long", created_at=keyed(), refresh_token_ttl=10**9))
        session.add(Client(client_id="slow", created_at=keyed(), access_token_ttl=10**8))
    result = await rotate(
        database,
        settings=settings,
        kek=load_kek(settings),
        alg="RS256",
        force=True,
        now=keyed(),
        actor="t",
    )
    async with database.session() as session:
        retired = await signing_keys.by_kid(session, str(result.retired))
    assert retired is not None
    assert retired.unpublish_after == keyed() + timedelta(seconds=10**8) + UNPUBLISH_MARGIN


async def test_concurrent_rotations_leave_exactly_one_active_key_per_alg(
    settings: Settings, keyed: ManualClock
) -> None:
    kek = load_kek(settings)
    databases = [Database(settings.database_url) for _ in range(4)]
    try:
        outcomes = []
        for _ in range(3):
            results = await asyncio.gather(
                *(
                    rotate(
                        db, settings=settings, kek=kek, alg=alg, force=True, now=keyed(), actor="t"
                    )
                    for db in databases
                    for alg in ("RS256", "EdDSA")
                )
            )
            outcomes += [result.outcome for result in results]
            for alg in ("RS256", "EdDSA"):
                current = await states(databases[0], alg)
                assert len(current["active"]) == 1 and len(current["next"]) == 1
        assert set(outcomes) <= {"rotated", "lost_race"} and "rotated" in outcomes
    finally:
        for db in databases:
            await db.dispose()


async def test_revoking_the_active_key_promotes_the_next_one_and_unpublishes_it(
    database: Database, settings: Settings, keyed: ManualClock
) -> None:
    kek = load_kek(settings)
    before = await states(database, "RS256")
    [active] = before["active"]
    result = await revoke(database, settings=settings, kek=kek, kid=active, now=keyed(), actor="t")
    assert result.previous_state == "active" and result.activated == before["next"][0]
    assert result.risk is not None  # the next key had not been published long enough yet
    after = await states(database, "RS256")
    assert after["revoked"] == [active] and after["active"] == before["next"]
    assert after["next"] == [result.next]
    async with database.session() as session:
        ring, _ = await load_ring(session, settings=settings, kek=kek, now=keyed())
        [event] = await audit.recent(session, action="key.revoke")
    assert active not in {key.kid for key in ring.published}
    assert event.subject == active and event.actor == "t"

    # With no next key left, a fresh key takes over at once.
    [upcoming] = after["next"]
    await revoke(database, settings=settings, kek=kek, kid=upcoming, now=keyed(), actor="t")
    [replacement_next] = (await states(database, "RS256"))["next"]
    assert replacement_next != upcoming
    await revoke(database, settings=settings, kek=kek, kid=replacement_next, now=keyed(), actor="t")
    async with database.session() as session:
        # A next key revoked behind our back: nothing left to promote.
        await session.execute(
            update(SigningKey).where(SigningKey.state == "next").values(state="revoked")
        )
    [current] = (await states(database, "RS256"))["active"]
    fresh = await revoke(database, settings=settings, kek=kek, kid=current, now=keyed(), actor="t")
    assert fresh.activated not in (None, current) and fresh.next is not None


async def test_revoking_an_unknown_or_revoked_key_is_a_clear_error(
    database: Database, settings: Settings, keyed: ManualClock
) -> None:
    kek = load_kek(settings)
    with pytest.raises(KeyOperationError, match="no signing key with kid 'nope'"):
        await revoke(database, settings=settings, kek=kek, kid="nope", now=keyed(), actor="t")
    [upcoming] = (await states(database, "EdDSA"))["next"]
    await revoke(database, settings=settings, kek=kek, kid=upcoming, now=keyed(), actor="t")
    with pytest.raises(KeyOperationError, match="already revoked"):
        await revoke(database, settings=settings, kek=kek, kid=upcoming, now=keyed(), actor="t")
    with pytest.raises(KeyOperationError, match="unknown alg 'HS256'"):
        await rotate(database, settings=settings, kek=kek, alg="HS256", now=keyed(), actor="t")


async def test_scheduled_rotation_runs_when_the_active_key_is_older_than_the_period(
    database: Database, tmp_path, keyed: ManualClock
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    settings = make_settings(database.url, tmp_path / "k", ISSUER_KEY_ROTATION_DAYS=1)
    kek = load_kek(settings)
    await ensure_initial_keys(database, settings=settings, kek=kek, now=keyed())
    keyed.advance(86_399)
    assert await rotate_if_due(database, settings=settings, kek=kek, now=keyed()) == []
    keyed.advance(1)
    results = await rotate_if_due(database, settings=settings, kek=kek, now=keyed())
    assert sorted(r.alg for r in results) == ["EdDSA", "RS256"]
    assert all(r.rotated for r in results)
    assert await rotate_if_due(database, settings=settings, kek=kek, now=keyed()) == []


async def test_retired_keys_past_their_tokens_are_purged(
    database: Database, settings: Settings, keyed: ManualClock
) -> None:
    kek = load_kek(settings)
    result = await rotate(
        database, settings=settings, kek=kek, alg="EdDSA", force=True, now=keyed(), actor="t"
    )
    assert await purge_unpublished(database, now=keyed(), actor="t") == []
    async with database.session() as session:
        retired = await signing_keys.by_kid(session, str(result.retired))
    assert retired is not None and retired.unpublish_after is not None
    keyed.now = retired.unpublish_after
    assert await purge_unpublished(database, now=keyed(), actor="t") == [result.retired]
    async with database.session() as session:
        assert await signing_keys.by_kid(session, str(result.retired)) is None
        [event] = await audit.recent(session, action="key.delete")
    assert event.subject == result.retired
