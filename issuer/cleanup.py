"""The clean-up job: expired refresh families and tokens, deny-list rows past expiry (kept
`denylist.RETAIN_PAST_EXPIRY` longer than their token, beyond any leeway), expired
authorization codes (a used one once its access token has expired too) and browser sessions.

One process at a time runs it (a lease from `issuer.jobs`), every
ISSUER_CLEANUP_INTERVAL_SECONDS. Each table is purged in its own short transaction so that
no long lock is held against the token endpoint. Revoked families are kept until their
absolute lifetime ends (introspection still answers `active: false` for them); the audit
log is kept: it has no retention limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from issuer.clock import Clock
from issuer.jobs import Lease, run_every
from issuer.metrics import CLEANUP_DELETED
from issuer.settings import Settings
from issuer.store import authorization_codes, browser_sessions, denylist, families, login_attempts
from issuer.store.database import Database

__all__ = ["LEASE_NAME", "Purged", "purge_expired", "run_forever"]

LEASE_NAME = "cleanup"

log = logging.getLogger("issuer.cleanup")


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows one pass deleted."""

    refresh_rows: int
    denylist_rows: int
    # Authorization codes and browser sessions (the code flow's login).
    login_rows: int = 0


async def purge_expired(database: Database, *, now: datetime) -> Purged:
    """One pass: delete every row whose expiry is at or before `now` (deny-list rows later)."""
    async with database.session() as session:
        refresh_rows = await families.purge_expired(session, now=now)
    async with database.session() as session:
        denylist_rows = await denylist.purge_expired(session, now=now)
    async with database.session() as session:
        await login_attempts.purge_expired(session, now=now)
    async with database.session() as session:
        login_rows = await authorization_codes.purge_expired(session, now=now)
        login_rows += await browser_sessions.purge_expired(session, now=now)
    CLEANUP_DELETED.labels(table="refresh").inc(refresh_rows)
    CLEANUP_DELETED.labels(table="denylist").inc(denylist_rows)
    CLEANUP_DELETED.labels(table="login").inc(login_rows)
    if refresh_rows or denylist_rows or login_rows:
        log.info(
            "clean-up: %d refresh family/token rows, %d deny-list rows, %d code/session rows",
            refresh_rows,
            denylist_rows,
            login_rows,
        )
    return Purged(refresh_rows=refresh_rows, denylist_rows=denylist_rows, login_rows=login_rows)


async def run_forever(database: Database, settings: Settings, clock: Clock) -> None:
    """Purge every interval while this process holds the clean-up lease (Runtime.start)."""
    interval = settings.cleanup_interval_seconds
    # A holder that dies is replaced after three missed passes.
    lease = Lease(database, LEASE_NAME, ttl=3 * interval, clock=clock)

    async def one_pass() -> None:
        await purge_expired(database, now=clock())

    await run_every(interval, lease, one_pass)
