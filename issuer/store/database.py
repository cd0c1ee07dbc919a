"""The engine and sessions: one `Database` per process, shared by every request."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy import ClauseElement, Executable, bindparam, event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import SQLCompiler

from issuer.store.models import Timestamp

__all__ = [
    "DATABASE_UNAVAILABLE",
    "Database",
    "Statement",
    "create_engine",
    "database_unavailable",
    "describe_database",
    "sqlite_path",
    "string_list",
    "unavailable_reason",
]


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
    if url.startswith("sqlite"):
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


# Connection-level failures only: a constraint violation or a bad statement is a bug.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    asyncpg.PostgresConnectionError,  # the connection is gone
    asyncpg.InterfaceError,  # … or closed under us
    asyncpg.OperatorInterventionError,  # server shutting down, starting, terminated us
    ConnectionError,  # refused or reset before a driver saw it
    TimeoutError,  # no answer in time (connect, or a pool checkout)
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now (an expected, passing
    condition: one log line, a 503), rather than a bug."""
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, DATABASE_UNAVAILABLE)
    )


def unavailable_reason(exc: BaseException) -> str:
    """The driver's own first line: no SQL, no parameters, no "Background on this error"."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def sqlite_path(url: str) -> Path | None:
    """The absolute path of an SQLite database file; None for Postgres or an in-memory one.

    A relative path in the URL is relative to the working directory of the process.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()


def describe_database(url: str) -> str:
    """Which database a URL names, for a log line: the SQLite file's absolute path, or the
    Postgres URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return f"SQLite file {path}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "SQLite in memory"
    return f"PostgreSQL {parsed.render_as_string(hide_password=True)}"


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
    """Owns the engine; hands out sessions whose transactions the caller commits."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pool_size = pool_size
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
