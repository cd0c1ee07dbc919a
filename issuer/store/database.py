"""The engine and sessions: one `Database` per process, shared by every request."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
from sqlalchemy import ClauseElement, Executable, bindparam, event, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import SQLCompiler

from issuer.store.models import Timestamp

__all__ = ["Database", "Statement", "create_engine", "string_list"]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a second writer wait
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """The ORM's engine: on Postgres at most `pool_size` connections, half of them overflow."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kept = max(1, pool_size // 2)
    return create_async_engine(
        url, pool_size=kept, max_overflow=pool_size - kept, pool_pre_ping=True
    )


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


_ASYNCPG = make_url("postgresql+asyncpg://").get_dialect()()


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a hot path, run in one round trip with no ORM (`fetch_one`).

    Written as text with `:name` parameters (`timestamps` names the aware-datetime ones,
    bound as `UTCDateTime` as the ORM binds them, so that SQLite compares the same text), or
    built with SQLAlchemy Core (`Statement.of`), whose bind parameters carry their types.
    On Postgres it goes straight to asyncpg (`$1`, `$2`, prepared once per connection): the
    ORM session, its BEGIN/COMMIT and the pool's pre-ping cost several times the query itself
    on the paths every request takes. A Core statement is compiled for asyncpg once, here.
    """

    sql: str
    timestamps: frozenset[str] = frozenset()
    core: Executable | None = field(default=None, kw_only=True, repr=False)
    names: tuple[str, ...] = field(init=False)
    positional: str = field(init=False)
    clause: Executable = field(init=False, repr=False)

    @classmethod
    def of(cls, core: Executable) -> Statement:
        """A Core statement, rendered once for asyncpg; `sql` is that rendering."""
        return cls("", core=core)

    def __post_init__(self) -> None:
        if self.core is not None:
            compiled = cast(ClauseElement, self.core).compile(dialect=_ASYNCPG)
            assert isinstance(compiled, SQLCompiler)  # asyncpg numbers its parameters
            object.__setattr__(self, "sql", compiled.string)
            object.__setattr__(self, "positional", compiled.string)
            object.__setattr__(self, "names", tuple(compiled.positiontup or ()))
            object.__setattr__(self, "clause", self.core)
            return
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        object.__setattr__(self, "positional", _NAMED.sub(number, self.sql))
        object.__setattr__(self, "names", tuple(names))
        clause = text(self.sql).bindparams(
            *(bindparam(name, type_=Timestamp) for name in self.timestamps)
        )
        object.__setattr__(self, "clause", clause)


def string_list(value: object) -> tuple[str, ...]:
    """A JSON list-of-strings column as `fetch_one` returns it (asyncpg and SQLite: text)."""
    items = json.loads(value) if isinstance(value, str | bytes) else value
    return tuple(str(item) for item in items) if isinstance(items, list) else ()


async def _no_session_reset(connection: asyncpg.Connection) -> None:
    """Statements leave no session state (no SET, LISTEN or advisory lock), so the default
    reset query, a round trip on every release, buys nothing; asyncpg still rolls back a
    transaction left open before calling this."""


class Database:
    """Owns the engine; hands out sessions whose transactions the caller commits.

    On Postgres a process holds at most `pool_size` connections for the ORM's sessions and
    twice as many for `fetch_one`: the paths every request takes (token checks, refresh
    rotation, a login's authorization and code exchange) are single statements there, and
    with more requests in flight than connections they queue for one.
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pool_size = 2 * pool_size
        self._pg_pool: asyncpg.Pool | None = None
        self._pg_pool_lock = asyncio.Lock()

    async def fetch_one(self, statement: Statement, **params: Any) -> Mapping[str, Any] | None:
        """The first row of `statement`, in one round trip and its own implicit transaction.

        A single statement is atomic on both databases, so a data-modifying one (a CTE that
        consumes and inserts) needs no BEGIN/COMMIT around it.
        """
        if self.is_postgres:
            pool = self._pg_pool or await self._open_pg_pool()
            args = [params[name] for name in statement.names]
            async with pool.acquire() as connection:
                row = await connection.fetchrow(statement.positional, *args)
            return None if row is None else dict(row.items())
        async with self.engine.begin() as connection:
            result = await connection.execute(statement.clause, params)
            found = result.mappings().first()
        return None if found is None else dict(found)

    async def _open_pg_pool(self) -> asyncpg.Pool:
        async with self._pg_pool_lock:
            if self._pg_pool is None:
                dsn = make_url(self.url).set(drivername="postgresql")
                self._pg_pool = await asyncpg.create_pool(
                    dsn.render_as_string(hide_password=False),
                    min_size=1,
                    max_size=self._pool_size,
                    reset=_no_session_reset,
                )
            return self._pg_pool

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure means "not reachable" for /readyz
            return False
        return True

    async def dispose(self) -> None:
        if self._pg_pool is not None:
            pool, self._pg_pool = self._pg_pool, None
            await pool.close()
        await self.engine.dispose()
