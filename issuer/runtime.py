"""What one issuer process holds while it serves: settings, database, KEK, key ring, the
authorization server, clock, jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from issuer import cleanup
from issuer.clock import Clock, utcnow
from issuer.jobs import Lease, run_every
from issuer.keyring.holder import MAINTENANCE_INTERVAL, KeyRingHolder
from issuer.keyring.kek import load_kek
from issuer.oauth.server import CLIENT_CACHE_SECONDS, AuthorizationServer
from issuer.settings import Settings
from issuer.store.changes import ChangeListener
from issuer.store.database import Database, describe_database, unavailable_reason

__all__ = ["Runtime"]

log = logging.getLogger("issuer")

# How long closing waits for the cancelled background jobs.
CLOSE_SECONDS = 5

ReadinessCheck = Callable[[], Awaitable[str | None]]


@dataclass
class Runtime:
    """Built by `create_app` (kept in the app state, read through `issuer.web.deps`),
    started by the app's lifespan."""

    settings: Settings
    clock: Clock = utcnow
    database: Database = field(init=False)
    kek: bytes = field(init=False, repr=False)
    keys: KeyRingHolder = field(init=False)
    server: AuthorizationServer = field(init=False)
    changes: ChangeListener | None = field(default=None, init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _checks: list[ReadinessCheck] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.kek = load_kek(self.settings)
        self.database = Database(self.settings.database_url, pooling=self.settings.database_pooling)
        self.keys = KeyRingHolder(self.database, self.settings, self.kek, self.clock)
        self.server = AuthorizationServer(
            settings=self.settings, database=self.database, keys=self.keys, clock=self.clock
        )
        self.add_readiness_check(self.keys.readiness)

    async def start(self) -> None:
        """Load what a request needs, then start the background jobs.

        A database that is down at start is not fatal (the process serves /healthz, /readyz
        says why, and the ring loads when the database answers); a KEK that does not open the
        stored keys is: the process must never run with keys it cannot use.
        """
        database = describe_database(self.settings.database_url)
        log.info(
            "issuer %s starting on %s", self.settings.url, database, extra={"database": database}
        )
        try:
            await self.keys.start()
        except (OSError, SQLAlchemyError) as exc:
            log.warning(
                "database unavailable at start (%s); retrying in the background",
                unavailable_reason(exc),
            )
        self.run_in_background("key-ring-refresh", self.keys.poll_forever)
        self._listen_for_changes()
        key_lease = Lease(
            self.database, "key-maintenance", ttl=3 * MAINTENANCE_INTERVAL, clock=self.clock
        )
        self.run_in_background(
            "key-maintenance",
            lambda: run_every(MAINTENANCE_INTERVAL, key_lease, self.keys.maintain),
        )
        self.run_in_background(
            "cleanup", lambda: cleanup.run_forever(self.database, self.settings, self.clock)
        )

    def _listen_for_changes(self) -> None:
        """Key-ring and client changes made by any process reach this one at once (Postgres
        LISTEN/NOTIFY, `issuer.store.changes`); without it, within the polling delays."""
        settings = self.settings
        url = settings.database_listen_url
        if url is None and not settings.is_sqlite:
            if settings.database_pooling == "transaction":
                log.warning(
                    "ISSUER_DATABASE_POOLING=transaction and no ISSUER_DATABASE_LISTEN_URL: "
                    "LISTEN needs a direct connection, so key and client changes reach this "
                    "process by polling only (the key ring every %gs, clients within %gs)",
                    settings.ring_refresh_seconds,
                    CLIENT_CACHE_SECONDS,
                )
            else:
                url = settings.database_url
        if url is None:
            return
        self.changes = ChangeListener(
            url,
            on_keys=self.keys.changed,
            on_client=self.server.clients.forget,
            on_clients=self.server.clients.forget_all,
        )
        self.run_in_background("change-notifications", self.changes.run_forever)

    def add_readiness_check(self, check: ReadinessCheck) -> None:
        """A check returns None when ready, or why not."""
        self._checks.append(check)

    async def not_ready_reasons(self) -> list[str]:
        reasons = [] if await self.database.ping() else ["database unreachable"]
        for check in self._checks:
            reason = await check()
            if reason:
                reasons.append(reason)
        return reasons

    def run_in_background(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Start a long-running job that lives as long as the process serves."""

        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job %s stopped", name)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def close(self) -> None:
        """Stop the background jobs and close the pools, in bounded time: a job stuck in a
        driver call that ignores its cancellation must not hold the shutdown forever."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=CLOSE_SECONDS)
            for task in pending:
                log.warning(
                    "background job %s did not stop within %d s", task.get_name(), CLOSE_SECONDS
                )
        self._tasks.clear()
        await self.database.dispose()
