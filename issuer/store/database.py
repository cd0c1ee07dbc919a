"""The engine and sessions: one `Database` per process, shared by every request."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy import ClauseElement, Executable, bindparam, event, make_url, text
from sqlalchemy.engine import ExceptionContext
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
from issuer.store.statement_pool import StatementPool

__all__ = [
    "POOLING_MODES",
    "Database",
    "Statement",
    "create_engine",
    "database_unavailable",
    "describe_database",
    "sqlite_path",
    "string_list",
    "unavailable_reason",
]

# ISSUER_DATABASE_POOLING: "session" when each client connection is a server connection of
# its own (a direct Postgres, PgBouncer in session mode); "transaction" behind a pooler that
# hands each transaction to whichever server connection is free (PgBouncer's transaction
# mode), where a statement prepared under a name on one server connection is missing, or
# already taken, on the next.
POOLING_MODES = ("session", "transaction")


log = logging.getLogger("issuer.database")

# How long closing the statement pool may wait for connections in use before terminating them.
POOL_CLOSE_SECONDS = 5


def _unnamed_statements(pooling: str) -> dict[str, Any]:
    """asyncpg's connect arguments for `pooling`: in transaction mode no named prepared
    statement at all. With its cache off asyncpg prepares unnamed statements and parses them
    again in the message sequence that runs them; SQLAlchemy's cache off and no name
    function make its `prepare()` calls unnamed too."""
    if pooling == "transaction":
        return {"statement_cache_size": 0}
    return {}


# Failures of the connection, not of a statement: the database is restarting, failing over,
# starting up, out of connections or out of reach. A retry shortly after normally succeeds.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,  # SQLAlchemy: connection-level (and SQLite's "database is locked")
    InterfaceError,
    DisconnectionError,
    asyncpg.PostgresConnectionError,  # the connection is gone
    asyncpg.InterfaceError,  # … or closed under us
    asyncpg.InternalClientError,  # the protocol broke off (a server gone mid-message)
    asyncpg.OperatorInterventionError,  # shutting down, starting up (57P03), terminated us
    ConnectionError,  # refused or reset before a driver saw it
    TimeoutError,  # connecting timed out
    socket.gaierror,  # the host name does not resolve (DNS during a failover)
)
# SQLSTATE classes of the same: 08 connection exception, 53 insufficient resources (too many
# connections), 57P operator intervention (57P01 admin shutdown, 57P03 cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc`, or an error it wraps, says the database cannot be reached right now,
    as opposed to a statement or data error (a bug). SQLAlchemy wraps asyncpg's errors in
    its own (`DBAPIError` whose `orig` has the SQLSTATE), asyncpg raises them bare."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        wrapped = getattr(current, "orig", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
    return False


def _stale(exc: Exception) -> bool:
    """The pooled connection was unusable before the statement was sent: a retry on another
    connection cannot run it twice. A Postgres restart sends each idle connection an
    unsolicited FATAL error and then closes it; in between (milliseconds, longer under load)
    asyncpg's protocol is still consuming that error, and a statement started on it fails
    with "cannot switch to state …; another operation is in progress" without being sent.
    Once the close has arrived, it fails with "connection is closed", also unsent."""
    message = str(exc)
    if isinstance(exc, asyncpg.InternalClientError):
        return message.startswith("cannot switch to state")
    return isinstance(exc, asyncpg.InterfaceError) and message == "connection is closed"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a second writer wait
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 10, pooling: str = "session") -> AsyncEngine:
    """The ORM's engine: on Postgres at most `pool_size` connections, half of them overflow."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = _unnamed_statements(pooling)
    if connect_args:
        connect_args["prepared_statement_cache_size"] = 0
    kept = max(1, pool_size // 2)
    engine = create_async_engine(
        url,
        pool_size=kept,
        max_overflow=pool_size - kept,
        pool_pre_ping=True,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _stale_is_a_disconnect)
    return engine


def _stale_is_a_disconnect(context: ExceptionContext) -> None:
    """A `_stale` connection is a lost one to SQLAlchemy too: the pool then replaces every
    connection opened before it (and the pre-ping reconnects) instead of handing them out."""
    driver_error = context.original_exception.__cause__
    if isinstance(driver_error, Exception) and _stale(driver_error):
        context.is_disconnect = True


def unavailable_reason(exc: BaseException) -> str:
    """The driver's own error, first line only: no SQL, no parameters, no "Background on
    this error" (SQLAlchemy's text carries them)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        wrapped = getattr(exc, "orig", None) or exc.__cause__
        if not isinstance(wrapped, BaseException):
            break
        exc = wrapped
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


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


class Database:
    """Owns the engine; hands out sessions whose transactions the caller commits.

    On Postgres a process holds at most `pool_size` connections for the ORM's sessions and
    twice as many for `fetch_one` (`StatementPool`): the paths every request takes (token
    checks, refresh rotation, a login's authorization and code exchange) are single
    statements there, and with more requests in flight than connections they queue for one.
    """

    def __init__(self, url: str, *, pool_size: int = 10, pooling: str = "session") -> None:
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}")
        self.url = url
        self.pooling = pooling
        self.engine = create_engine(url, pool_size=pool_size, pooling=pooling)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pool_size = 2 * pool_size
        self._statement_pool: StatementPool | None = None

    async def fetch_one(self, statement: Statement, **params: Any) -> Mapping[str, Any] | None:
        """The first row of `statement`, in one round trip and its own implicit transaction.

        A single statement is atomic on both databases, so a data-modifying one (a CTE that
        consumes and inserts) needs no BEGIN/COMMIT around it.
        """
        if self.is_postgres:
            pool = self._statement_pool or self._open_statement_pool()
            args = [params[name] for name in statement.names]
            row = await pool.fetchrow(statement.positional, args, stale=_stale)
            return None if row is None else dict(row.items())
        async with self.engine.begin() as connection:
            result = await connection.execute(statement.clause, params)
            found = result.mappings().first()
        return None if found is None else dict(found)

    def _open_statement_pool(self) -> StatementPool:
        if self._statement_pool is None:
            url = make_url(self.url).set(drivername="postgresql")
            dsn = url.render_as_string(hide_password=False)
            options = _unnamed_statements(self.pooling)

            async def connect() -> asyncpg.Connection:
                return await asyncpg.connect(dsn, **options)

            self._statement_pool = StatementPool(connect, self._pool_size)
        return self._statement_pool

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
        """Close both pools, in bounded time: a graceful close waits for every connection
        in use to come back, and one a stuck request never gave back would hold the
        shutdown forever; after POOL_CLOSE_SECONDS the rest are terminated."""
        if self._statement_pool is not None:
            pool, self._statement_pool = self._statement_pool, None
            if not await pool.close(POOL_CLOSE_SECONDS):
                log.warning(
                    "database pool: connections still in use after %d s; terminated",
                    POOL_CLOSE_SECONDS,
                )
        try:
            await asyncio.wait_for(self.engine.dispose(), POOL_CLOSE_SECONDS)
        except TimeoutError:
            log.warning("database engine: connections not closed within %d s", POOL_CLOSE_SECONDS)
