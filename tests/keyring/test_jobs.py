"""The job lease on both databases: one holder at a time, taken over after expiry."""

from __future__ import annotations

import asyncio

from issuer.jobs import Lease, run_every
from issuer.store.database import Database
from tests.keyring.clock import ManualClock


async def test_one_holder_at_a_time_and_takeover_after_expiry(database: Database) -> None:
    clock = ManualClock()
    first = Lease(database, "rotation", ttl=30, clock=clock)
    second = Lease(database, "rotation", ttl=30, clock=clock)
    assert await first.acquire() is True
    assert await second.acquire() is False
    clock.advance(29)
    assert await first.acquire() is True  # renewed until 59 s
    clock.advance(29)
    assert await second.acquire() is False
    clock.advance(1)
    assert await second.acquire() is True  # the first holder went quiet: taken over
    assert await first.acquire() is False
    await second.release()
    assert await first.acquire() is True
    assert await Lease(database, "cleanup", ttl=30, clock=clock).acquire() is True


async def test_racing_processes_get_exactly_one_lease(database: Database) -> None:
    clock = ManualClock()
    databases = [Database(database.url) for _ in range(5)]
    try:
        leases = [Lease(db, "race", ttl=30, clock=clock) for db in databases]
        taken = await asyncio.gather(*(lease.acquire() for lease in leases))
    finally:
        for db in databases:
            await db.dispose()
    assert taken.count(True) == 1


async def test_run_every_runs_the_job_only_while_holding_the_lease(database: Database) -> None:
    clock = ManualClock()
    holder = Lease(database, "job", ttl=30, clock=clock)
    assert await holder.acquire()
    runs: list[str] = []
    sleeps = 0

    async def job() -> None:
        runs.append("ran")

    async def sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        clock.advance(seconds)
        if sleeps == 5:
            raise asyncio.CancelledError

    other = Lease(database, "job", ttl=30, clock=clock)
    try:
        await run_every(10, other, job, sleep=sleep)
    except asyncio.CancelledError:
        pass
    # Held by `holder` until 30 s: the passes at 0, 10 and 20 s skip; at 30 and 40 s it runs.
    assert runs == ["ran", "ran"]
    assert await holder.acquire()  # released when the loop stopped
