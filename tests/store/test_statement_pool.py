"""The statement pool (`Database.fetch_one`'s connections), on a real Postgres: its bound,
its queue, what it reuses and what it terminates, a restart's stale connections, and a
bounded close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import make_url

from issuer.store.database import Database, _stale
from issuer.store.statement_pool import StatementPool

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def pool(database: Database) -> AsyncIterator[StatementPool]:
    dsn = make_url(database.url).set(drivername="postgresql").render_as_string(False)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn)

    statement_pool = StatementPool(connect, 2)
    yield statement_pool
    await statement_pool.close(1)


async def test_at_most_size_connections_and_a_queue_for_the_rest(pool: StatementPool) -> None:
    async def one(n: int) -> int:
        row = await pool.fetchrow(
            "SELECT pg_backend_pid() AS pid, pg_sleep(0.05)", [], stale=_stale
        )
        assert row is not None
        return int(row["pid"])

    pids = await asyncio.gather(*(one(n) for n in range(8)))
    assert len(set(pids)) <= 2  # eight statements, two connections, the rest waited


async def test_a_statement_error_keeps_the_connection_a_cancel_ends_it(
    pool: StatementPool,
) -> None:
    first = await pool.fetchrow("SELECT pg_backend_pid() AS pid", [], stale=_stale)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await pool.fetchrow("SELECT 1 / 0", [], stale=_stale)
    again = await pool.fetchrow("SELECT pg_backend_pid() AS pid", [], stale=_stale)
    assert first is not None and again is not None and again["pid"] == first["pid"]

    slow = asyncio.create_task(pool.fetchrow("SELECT pg_sleep(5)", [], stale=_stale))
    await asyncio.sleep(0.1)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    after = await pool.fetchrow("SELECT pg_backend_pid() AS pid", [], stale=_stale)
    assert after is not None and after["pid"] != first["pid"]  # a new connection


async def test_connections_ended_by_the_server_are_replaced_and_the_statement_runs(
    pool: StatementPool, database: Database
) -> None:
    pids = await asyncio.gather(
        *(
            pool.fetchrow("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)", [], stale=_stale)
            for _ in range(2)
        )
    )
    # What a restart does to every idle connection: the server ends them.
    killer = await asyncpg.connect(
        make_url(database.url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        for row in pids:
            assert row is not None
            await killer.execute("SELECT pg_terminate_backend($1)", row["pid"])
    finally:
        await killer.close()
    await asyncio.sleep(0.2)
    for _ in range(4):
        row = await pool.fetchrow("SELECT 1 AS one", [], stale=_stale)
        assert row is not None and row["one"] == 1


async def test_close_is_bounded_and_refuses_what_comes_after(pool: StatementPool) -> None:
    held = await pool.take()  # a request that never gives its connection back
    assert await pool.close(0.2) is False
    assert held.is_closed()
    with pytest.raises(asyncpg.InterfaceError):
        await pool.take()


async def test_a_waiter_is_released_by_the_close(pool: StatementPool) -> None:
    first, second = await pool.take(), await pool.take()
    waiting = asyncio.create_task(pool.take())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    pool.give_back(first, reusable=True)
    pool.give_back(second, reusable=True)
    third = await asyncio.wait_for(waiting, 1)
    closing = asyncio.create_task(pool.close(1))
    await asyncio.sleep(0.05)
    pool.give_back(third, reusable=True)
    assert await closing is True
