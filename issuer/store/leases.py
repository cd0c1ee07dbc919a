"""Verbs on `job_leases`: a named, expiring lease per background job (`issuer.jobs`).

Taking a lease is one conditional UPDATE (`WHERE holder = me OR expires_at <= now`), or an
INSERT when the row does not exist yet, whose primary key lets one of two racing processes
win. It works the same on Postgres and SQLite and holds no lock across a round trip.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from issuer.store.database import Database
from issuer.store.models import JobLease

__all__ = ["release", "take"]


async def take(
    database: Database, name: str, *, holder: str, now: datetime, expires_at: datetime
) -> bool:
    """Take the lease if it is free or expired, or renew it if `holder` has it; True if so."""
    async with database.session() as session:
        taken = await session.execute(
            update(JobLease)
            .where(
                JobLease.name == name, (JobLease.holder == holder) | (JobLease.expires_at <= now)
            )
            .values(holder=holder, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return True
        exists = await session.scalar(select(JobLease.name).where(JobLease.name == name))
        if exists is not None:
            return False
    try:
        async with database.session() as session:
            session.add(JobLease(name=name, holder=holder, expires_at=expires_at))
    except IntegrityError:
        return False  # another process inserted it first
    return True


async def release(database: Database, name: str, *, holder: str) -> None:
    """Give the lease up if `holder` has it."""
    async with database.session() as session:
        await session.execute(
            delete(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .execution_options(synchronize_session=False)
        )
