"""Changes announced by Postgres: each process LISTENs and acts at once instead of waiting
for its next poll.

Triggers (revision 0008) NOTIFY on the `issuer_changes` channel from the transaction that
changes a signing key (`keys`) or a client (`client <client_id>`); Postgres delivers a
notification only once that transaction commits. `ChangeListener` holds one dedicated
connection per process for it: LISTEN is session state, so through PgBouncer in transaction
mode it needs a direct connection (ISSUER_DATABASE_LISTEN_URL). A lost connection is opened
again with a growing pause; whatever was announced meanwhile is unknown, so every (re)start
of listening counts as "everything changed". Polling stays in place as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import make_url

__all__ = ["CHANNEL", "ChangeListener"]

CHANNEL = "issuer_changes"
# A LISTEN connection is idle: this often a query proves it is still there (a half-open TCP
# connection, after a failover, would otherwise stay silent for good).
KEEPALIVE_SECONDS = 15.0
FIRST_PAUSE, MAX_PAUSE = 0.5, 30.0

log = logging.getLogger("issuer.changes")


class ChangeListener:
    """LISTENs on `url` and calls `on_keys()` / `on_client(client_id)` per notification, and
    `on_keys()` plus `on_clients()` each time listening (re)starts."""

    def __init__(
        self,
        url: str,
        *,
        on_keys: Callable[[], None],
        on_client: Callable[[str], None],
        on_clients: Callable[[], None],
    ) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._on_keys = on_keys
        self._on_client = on_client
        self._on_clients = on_clients
        self.listening = asyncio.Event()

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        kind, _, subject = payload.partition(" ")
        if kind == "keys":
            self._on_keys()
        elif kind == "client" and subject:
            self._on_client(subject)

    async def run_forever(self) -> None:
        pause = FIRST_PAUSE
        while True:
            try:
                await self._listen_once()
                pause = FIRST_PAUSE
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the connection is opened again
                log.warning(
                    "change notifications interrupted (%s: %s); polling until they are back",
                    type(exc).__name__,
                    exc,
                )
            await asyncio.sleep(pause)
            pause = min(2 * pause, MAX_PAUSE)

    async def _listen_once(self) -> None:
        """Listen until the connection is lost (returns or raises)."""
        connection = await asyncpg.connect(self._dsn, timeout=10)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._notified)
            # Anything announced while this process was not listening was missed.
            self._on_keys()
            self._on_clients()
            self.listening.set()
            log.info("listening for change notifications")
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(KEEPALIVE_SECONDS):  # not wait_for: see holder
                        await lost.wait()
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=10)
            raise ConnectionError("the listening connection was closed")
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
            if not connection.is_closed():
                connection.terminate()
