"""Background jobs that one process at a time runs: a lease on the `job_leases` table.

    lease = Lease(database, "cleanup", ttl=120, clock=runtime.clock)
    runtime.run_in_background("cleanup", lambda: run_every(60, lease, job))

`run_every(interval, lease, job)` wakes every `interval` seconds, takes or renews the lease
and runs `job()` only while it holds it. The lease is a row per job name holding the
holder id and an expiry; `issuer.store.leases` takes and releases it, the same on Postgres
and SQLite, with no lock held across a round trip. A holder that dies is replaced once its
lease expires, so `ttl` should be a few intervals long; a job must still be safe to run
twice (a lease is exclusive only as long as clocks roughly agree), which is why rotation
also compares and sets.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from issuer.clock import Clock, utcnow
from issuer.store import leases
from issuer.store.database import Database, database_unavailable, unavailable_reason

__all__ = ["Lease", "run_every"]

log = logging.getLogger("issuer.jobs")


def _holder_id() -> str:
    # Host and pid for people reading the table; the random part keeps two apps in one
    # process (tests) apart.
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """A named, expiring lease: `await lease.acquire()` is True while this holder has it."""

    def __init__(self, database: Database, name: str, *, ttl: float, clock: Clock = utcnow) -> None:
        self.database = database
        self.name = name
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self.holder = _holder_id()

    async def acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it if held; True if ours."""
        now = self.clock()
        return await leases.take(
            self.database, self.name, holder=self.holder, now=now, expires_at=now + self.ttl
        )

    async def release(self) -> None:
        """Give the lease up now (on shutdown) so another process need not wait for expiry."""
        await leases.release(self.database, self.name, holder=self.holder)


async def run_every(
    interval: float,
    lease: Lease,
    job: Callable[[], Awaitable[object]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Forever: take or renew `lease`, run `job()` if we hold it, sleep `interval` seconds.

    A failing pass (database down, a bug in the job) is logged and retried next interval;
    cancellation (shutdown) releases the lease.
    """
    try:
        while True:
            try:
                if await lease.acquire():
                    await job()
            except Exception as exc:
                if not database_unavailable(exc):
                    log.exception("job %s failed; retrying in %ss", lease.name, interval)
                else:
                    log.warning(
                        "job %s: database unavailable (%s); retrying in %ss",
                        lease.name,
                        unavailable_reason(exc),
                        interval,
                    )
            await sleep(interval)
    finally:
        try:
            await asyncio.shield(lease.release())
        except Exception:  # best effort: the lease expires anyway
            log.debug("could not release lease %s", lease.name, exc_info=True)
