"""The Postgres connections `Database.fetch_one` runs its single statements on.

asyncpg's own pool costs, on every release, a task (`asyncio.shield`), a timeout, a reset
and an inactivity timer: on the paths every request takes (a token check, a refresh, a
login's authorization and code exchange) that was more than the statement itself. These
statements need none of it: each is one implicit transaction, leaves no session state
behind, and a connection that saw anything but a clean result is closed, not reused. So a
connection is taken from a list and put back, and a statement that finds every connection
busy waits for one.

A restarted server leaves every connection opened before it suspect: `expire` closes the
idle ones at once and the busy ones when they come back (`_stale` in `issuer.store.database`
decides when).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

__all__ = ["StatementPool"]


class StatementPool:
    """At most `size` connections made by `connect`, the most recently used first."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], size: int) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[asyncpg.Connection] = []
        self._busy: set[asyncpg.Connection] = set()
        self._expired: set[asyncpg.Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._drained: asyncio.Event | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    async def take(self) -> asyncpg.Connection:
        """An open connection of this pool's, for the caller alone until `give_back`."""
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the statement pool is closed")
            while self._idle:
                connection = self._idle.pop()
                if not connection.is_closed():
                    self._busy.add(connection)
                    return connection
            if len(self._busy) + self._opening < self._size:
                self._opening += 1
                try:
                    connection = await self._connect()
                except BaseException:
                    self._wake()  # a waiter may try to connect in this one's place
                    raise
                finally:
                    self._opening -= 1
                if self.closed:  # while it connected
                    connection.terminate()
                    continue
                self._busy.add(connection)
                return connection
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                else:
                    self._wake()  # woken, then cancelled: pass the turn on
                raise

    def give_back(self, connection: asyncpg.Connection, *, reusable: bool) -> None:
        """Return a connection taken with `take`; one that is not `reusable` (its statement
        failed, or was cancelled), expired or closed is terminated."""
        self._busy.discard(connection)
        expired = connection in self._expired
        if expired:
            self._expired.discard(connection)
        if (
            not reusable
            or expired
            or self._closed
            or connection.is_closed()
            or connection.is_in_transaction()
        ):
            connection.terminate()
        else:
            self._idle.append(connection)
        if self._drained is not None and not self._busy:
            self._drained.set()
        self._wake()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """`take` … `give_back`, reusable unless the block raised."""
        connection = await self.take()
        reusable = False
        try:
            yield connection
            reusable = True
        finally:
            self.give_back(connection, reusable=reusable)

    async def fetchrow(
        self, sql: str, args: list[Any], *, stale: Callable[[Exception], bool]
    ) -> asyncpg.Record | None:
        """`fetchrow` on a connection of the pool; once more on a new one when the first
        was `stale` (the statement was never sent), after expiring every older one.
        A statement error the server reported leaves the connection reusable."""
        for attempt in (1, 2):
            connection = await self.take()
            reusable = False
            try:
                row = await connection.fetchrow(sql, *args)
                reusable = True
                return row
            except asyncpg.PostgresError as exc:
                # The server answered: the connection is ready for more, unless the answer
                # was that it is going away (08 connection, 57P operator intervention).
                reusable = not isinstance(
                    exc, asyncpg.PostgresConnectionError | asyncpg.OperatorInterventionError
                )
                raise
            except (asyncpg.InternalClientError, asyncpg.InterfaceError) as exc:
                if attempt == 2 or not stale(exc):
                    raise
            finally:
                self.give_back(connection, reusable=reusable)
            self.expire()
        raise AssertionError("unreachable")  # pragma: no cover

    def expire(self) -> None:
        """Close every connection opened so far: the idle ones now, the busy ones when
        they are given back."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.terminate()
        self._expired |= self._busy

    async def close(self, grace: float) -> bool:
        """Close the pool: the idle connections now, the busy ones as they come back, and
        those still busy after `grace` seconds are terminated. False if any were."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it sees the pool closed
        idle, self._idle = self._idle, []
        self._drained = asyncio.Event()
        if not self._busy:
            self._drained.set()
        try:
            async with asyncio.timeout(grace):
                for connection in idle:
                    await connection.close()
                await self._drained.wait()
            return True
        except TimeoutError:
            for connection in [*idle, *self._busy]:
                connection.terminate()
            self._busy.clear()
            return False

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
