"""What one issuer process holds while it serves: settings, database, KEK, clock, jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from issuer.clock import Clock, utcnow
from issuer.keyring.kek import load_kek
from issuer.settings import Settings
from issuer.store.database import Database

__all__ = ["Runtime"]

log = logging.getLogger("issuer")

ReadinessCheck = Callable[[], Awaitable[str | None]]


@dataclass
class Runtime:
    """Built by `create_app`, started by the app's lifespan, reached through DI."""

    settings: Settings
    clock: Clock = utcnow
    database: Database = field(init=False)
    kek: bytes = field(init=False, repr=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _checks: list[ReadinessCheck] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.kek = load_kek(self.settings)
        self.database = Database(self.settings.database_url)

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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.database.dispose()
