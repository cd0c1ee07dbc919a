"""The failed-login counters: one atomic UPSERT per attempt, windows, release, clean-up."""

import asyncio
from datetime import UTC, datetime, timedelta

from issuer.cleanup import purge_expired
from issuer.store import login_attempts
from issuer.store.database import Database
from issuer.store.login_attempts import counter_key

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
A, B = counter_key("account", "a@example.com"), counter_key("address", "203.0.113.7")


async def test_each_attempt_adds_one_to_every_key_in_one_window(database: Database) -> None:
    first = await login_attempts.count(database, [A, B], now=NOW, window=60)
    later = NOW + timedelta(seconds=30)
    second = await login_attempts.count(database, [A], now=later, window=60)
    assert first[A].failures == first[B].failures == 1
    assert first[A].window_ends_at == NOW + timedelta(seconds=60)
    # The window is fixed at its first attempt; a later one does not move it.
    assert second[A] == login_attempts.Count(A, 2, 2, NOW + timedelta(seconds=60))


async def test_concurrent_attempts_each_see_their_own_count(database: Database) -> None:
    results = await asyncio.gather(
        *(login_attempts.count(database, [A, B], now=NOW, window=60) for _ in range(20))
    )
    assert sorted(result[A].failures for result in results) == list(range(1, 21))
    assert sorted(result[B].failures for result in results) == list(range(1, 21))


async def test_the_first_attempt_after_the_window_starts_a_new_one(database: Database) -> None:
    for _ in range(3):
        await login_attempts.count(database, [A], now=NOW, window=60)
    after = NOW + timedelta(seconds=60)
    fresh = await login_attempts.count(database, [A], now=after, window=60)
    assert fresh[A] == login_attempts.Count(A, 1, 1, after + timedelta(seconds=60))


async def test_release_takes_back_one_only_within_the_same_window(database: Database) -> None:
    await login_attempts.count(database, [A], now=NOW, window=60)
    counted = await login_attempts.count(database, [A, B], now=NOW, window=60)
    await login_attempts.release(database, counted.values())
    again = await login_attempts.count(database, [A, B], now=NOW, window=60)
    assert (again[A].failures, again[B].failures) == (2, 1)
    # A count from a window that has ended releases nothing in the new one.
    later = NOW + timedelta(seconds=61)
    fresh = await login_attempts.count(database, [A], now=later, window=60)
    await login_attempts.release(database, [again[A]])
    after = await login_attempts.count(database, [A], now=later, window=60)
    assert (fresh[A].failures, after[A].failures) == (1, 2)


async def test_settle_keeps_a_failure_counted_and_no_longer_pending(database: Database) -> None:
    first = await login_attempts.count(database, [A], now=NOW, window=60)
    await login_attempts.count(database, [A], now=NOW, window=60)
    await login_attempts.settle(database, first.values())
    third = await login_attempts.count(database, [A], now=NOW, window=60)
    assert (third[A].failures, third[A].pending, third[A].settled) == (3, 2, 1)
    await login_attempts.release(database, third.values())
    fourth = await login_attempts.count(database, [A], now=NOW, window=60)
    assert (fourth[A].failures, fourth[A].pending) == (3, 2)


async def test_clear_forgets_and_purge_deletes_ended_windows(database: Database) -> None:
    await login_attempts.count(database, [A, B], now=NOW, window=60)
    await login_attempts.clear(database, [A])
    assert (await login_attempts.count(database, [A], now=NOW, window=60))[A].failures == 1
    await login_attempts.count(database, [B], now=NOW + timedelta(seconds=30), window=60)
    async with database.session() as session:
        assert await login_attempts.purge_expired(session, now=NOW + timedelta(seconds=59)) == 0
    async with database.session() as session:
        assert await login_attempts.purge_expired(session, now=NOW + timedelta(seconds=60)) == 2
    assert (await login_attempts.count(database, [B], now=NOW, window=60))[B].failures == 1


async def test_the_clean_up_job_purges_ended_windows(database: Database) -> None:
    await login_attempts.count(database, [A], now=NOW, window=60)
    await purge_expired(database, now=NOW + timedelta(seconds=60))
    async with database.session() as session:
        assert await login_attempts.purge_expired(session, now=NOW + timedelta(days=1)) == 0
