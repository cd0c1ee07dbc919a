"""The statement pool (`Database.fetch_one`'s connections), on a real Postgres: its bound,
its queue, what it reuses and what it terminates, a restart's stale connections, and a
bounded close."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import make_url

from issuer.store.database import Database, Statement
from issuer.store.statement_pool import StatementPool

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
def pool(database: Database) -> StatementPool:
    """The database's own statement pool, of two connections."""
    database._pool_size = 2
    return database._open_statement_pool()


async def backend(database: Database, sql: str = "SELECT pg_backend_pid() AS pid") -> int:
    row = await database.fetch_one(Statement(sql))
    assert row is not None
    return int(row["pid"])


async def test_at_most_size_connections_and_a_queue_for_the_rest(
    database: Database, pool: StatementPool
) -> None:
    sleepy = "SELECT pg_backend_pid() AS pid, pg_sleep(0.05) AS slept"
    pids = await asyncio.gather(*(backend(database, sleepy) for _ in range(8)))
    assert len(set(pids)) <= 2  # eight statements, two connections, the rest waited


async def test_a_statement_error_keeps_the_connection_a_cancel_ends_it(
    database: Database, pool: StatementPool
) -> None:
    first = await backend(database)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await database.fetch_one(Statement("SELECT 1 / 0 AS nothing"))
    assert await backend(database) == first

    slow = asyncio.create_task(database.fetch_one(Statement("SELECT pg_sleep(5) AS slept")))
    await asyncio.sleep(0.1)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await backend(database) != first  # a new connection


async def test_connections_ended_by_the_server_are_replaced_and_the_statement_runs(
    database: Database, pool: StatementPool
) -> None:
    sleepy = "SELECT pg_backend_pid() AS pid, pg_sleep(0.05) AS slept"
    pids = await asyncio.gather(*(backend(database, sleepy) for _ in range(2)))
    # What a restart does to every idle connection: the server ends them.
    killer = await asyncpg.connect(
        make_url(database.url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        for pid in pids:
            await killer.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
    for _ in range(4):
        assert await backend(database) not in pids


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
