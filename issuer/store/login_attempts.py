"""Failed-login counters in the database, so that every process shares one budget.

Each attempt is counted *before* its password is checked, with one atomic UPSERT over all
of its keys (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, on Postgres and SQLite ≥ 3.35
alike): concurrent attempts each see a distinct count, so no more of them than the limit can
go on to a verdict, whichever process they reach. A counter covers one fixed window; the
first attempt after the window has ended starts a new one at 1. `failures` counts every
attempt of the window that was not taken back; `pending` those of them still awaiting a
verdict (`settle` ends that for a failure, `release` takes an attempt back altogether).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.database import Database
from issuer.store.models import LoginAttempt

__all__ = ["Count", "clear", "count", "counter_key", "purge_expired", "release", "settle"]


def counter_key(kind: str, *parts: str) -> bytes:
    """The stored key of a counter: a digest, bounded and without the e-mail in clear."""
    return hashlib.sha256("\0".join((kind, *parts)).encode()).digest()


@dataclass(frozen=True, slots=True)
class Count:
    """A counter right after this attempt was added to it."""

    key: bytes
    failures: int
    pending: int
    window_ends_at: datetime

    @property
    def settled(self) -> int:
        """The failures whose verdict is known (this attempt and others in flight aside)."""
        return self.failures - self.pending


async def count(
    database: Database, keys: Sequence[bytes], *, now: datetime, window: float
) -> dict[bytes, Count]:
    """Add one attempt to every counter in `keys`, in one statement; the counts after it."""
    insert = pg_insert if database.is_postgres else sqlite_insert
    ends = now + timedelta(seconds=window)
    # Sorted, so that two statements over the same keys lock their rows in the same order.
    rows = [
        {"key": key, "failures": 1, "pending": 1, "window_ends_at": ends}
        for key in sorted(set(keys))
    ]
    values = insert(LoginAttempt).values(rows)
    # The SET expressions read the row as it was before this statement.
    ended = LoginAttempt.window_ends_at <= now
    statement = values.on_conflict_do_update(
        index_elements=[LoginAttempt.key],
        set_={
            "failures": case((ended, 1), else_=LoginAttempt.failures + 1),
            "pending": case((ended, 1), else_=LoginAttempt.pending + 1),
            "window_ends_at": case(
                (ended, values.excluded.window_ends_at), else_=LoginAttempt.window_ends_at
            ),
        },
    ).returning(
        LoginAttempt.key, LoginAttempt.failures, LoginAttempt.pending, LoginAttempt.window_ends_at
    )
    async with database.engine.begin() as connection:
        result = await connection.execute(statement)
        counted = [Count(row.key, row.failures, row.pending, row.window_ends_at) for row in result]
    return {found.key: found for found in counted}


async def release(database: Database, counts: Iterable[Count]) -> None:
    """Take back one attempt from each counter, unless its window has since started anew."""
    await _adjust(database, counts, failures=-1)


async def settle(database: Database, counts: Iterable[Count]) -> None:
    """The attempt failed: it stays counted, no longer pending."""
    await _adjust(database, counts, failures=0)


async def _adjust(database: Database, counts: Iterable[Count], *, failures: int) -> None:
    """One attempt less pending (and `failures` added) on each counter of the same window."""
    same_window = [
        and_(LoginAttempt.key == found.key, LoginAttempt.window_ends_at == found.window_ends_at)
        for found in counts
    ]
    if not same_window:
        return
    # Rows locked in key order, as `count` locks them (an OR scan would lock them in table
    # order, and two statements taking the same rows in different orders deadlock).
    locked = (
        select(LoginAttempt.key)
        .where(or_(*same_window), LoginAttempt.pending > 0)
        .order_by(LoginAttempt.key)
        .with_for_update()
    )
    statement = (
        update(LoginAttempt)
        .where(LoginAttempt.key.in_(locked.scalar_subquery()))
        .values(failures=LoginAttempt.failures + failures, pending=LoginAttempt.pending - 1)
    )
    async with database.engine.begin() as connection:
        await connection.execute(statement)


async def clear(database: Database, keys: Iterable[bytes]) -> None:
    """Forget these counters (a successful login clears its own)."""
    async with database.engine.begin() as connection:
        await connection.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(list(keys))))


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete the counters whose window has ended (the clean-up job calls this)."""
    result = await session.execute(delete(LoginAttempt).where(LoginAttempt.window_ends_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
