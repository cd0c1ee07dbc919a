"""Losing the database connections mid-life: 503 temporarily_unavailable, never a 500, and
the next request works again on fresh connections (a Postgres restart or failover)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from issuer.runtime import Runtime
from issuer.store.database import Database, Statement, database_unavailable
from issuer.web.errors import EXCEPTION_HANDLERS
from tests.conftest import make_settings
from tests.oauth.support import add_client, add_user, login, post_form, refresh, serving_in_loop
from tests.tcp_proxy import TcpProxy

Client = AsyncTestClient[Litestar]


async def terminate_other_backends(database: Database) -> int:
    """What a Postgres restart does to every pooled connection of the app."""
    async with database.engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        return int(result.scalar_one())


async def answered(client: Client, method: str, path: str, **kwargs: object) -> int:
    """The status after at most one retry; a 503 must say when to retry."""
    response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    if response.status_code == 503:
        assert response.json()["error"] == "temporarily_unavailable"
        assert response.headers["retry-after"] == "1"
        await asyncio.sleep(0.1)
        response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code != 500, response.text
    return response.status_code


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_hot_paths_recover_when_postgres_drops_every_connection(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    tokens = (await login(client, secret)).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/userinfo", headers=bearer)).status_code == 200
    for _ in range(3):
        assert await terminate_other_backends(database) >= 1
        await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled sockets
        assert await answered(client, "GET", "/userinfo", headers=bearer) == 200
        refreshed = await refresh(client, secret, tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        tokens = refreshed.json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await login(client, secret)).status_code == 200


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["connection-gone", "admin-shutdown", "starting-up", "refused"],
)
async def test_a_lost_database_is_503_and_a_bug_is_still_500(error: Exception) -> None:
    @get("/lost", sync_to_thread=False)
    def lost() -> None:
        raise error

    @get("/bug", sync_to_thread=False)
    def bug() -> None:
        raise IntegrityError("INSERT …", {}, Exception("duplicate key"))

    app = Litestar([lost, bug], exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncTestClient(app=app) as client:
        unavailable = await client.get("/lost")
        broken = await client.get("/bug")
    assert unavailable.status_code == 503
    assert unavailable.json()["error"] == "temporarily_unavailable"
    assert unavailable.headers["retry-after"] == "1"
    assert unavailable.headers["cache-control"] == "no-store"
    assert broken.status_code == 500 and broken.json()["error"] == "server_error"


def _error_response(sqlstate: str, message: str) -> bytes:
    """A Postgres ErrorResponse message (protocol v3)."""
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in (
            (b"S", "FATAL"),
            (b"V", "FATAL"),
            (b"C", sqlstate),
            (b"M", message),
        )
    )
    return b"E" + struct.pack("!I", len(fields) + 5) + fields + b"\0"


@asynccontextmanager
async def postgres_starting_up() -> AsyncIterator[str]:
    """A server on a loopback port that answers every startup message as a Postgres still
    starting up does: ErrorResponse 57P03, then it closes the connection."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                (length,) = struct.unpack("!I", await reader.readexactly(4))
                (code,) = struct.unpack("!I", (await reader.readexactly(length - 4))[:4])
                if code != SSL_REQUEST:
                    break
                writer.write(b"N")  # no TLS here; the startup message follows
            writer.write(_error_response("57P03", "the database system is starting up"))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/issuer"
    finally:
        server.close()
        await server.wait_closed()


SSL_REQUEST = 80877103


async def test_a_database_starting_up_is_503_on_every_protocol_endpoint(tmp_path: Path) -> None:
    """57P03 reaches the handlers wrapped by SQLAlchemy (a DBAPIError whose `orig` carries the
    SQLSTATE) on the ORM paths and bare from asyncpg on the hot paths: 503 either way."""
    async with postgres_starting_up() as url:
        settings = make_settings(url, tmp_path / "keys")
        async with serving_in_loop(settings) as (http, _):
            form = {"grant_type": "password", "username": "ada@example.com", "password": "x"}
            token = {"token": "not-a-token"}
            responses = [
                await post_form(http, "/oauth/token", form, auth=("web", "secret")),
                await post_form(http, "/oauth/introspect", token, auth=("web", "secret")),
                await post_form(http, "/oauth/revoke", token, auth=("web", "secret")),
            ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json() == {
            "error": "temporarily_unavailable",
            "error_description": "the database is unavailable; try again shortly",
        }
        assert response.headers["retry-after"] == "1"
        assert response.headers["cache-control"] == "no-store"


async def test_wrapped_and_bare_starting_up_errors_are_unavailable(tmp_path: Path) -> None:
    async with postgres_starting_up() as url:
        database = Database(url)
        try:
            with pytest.raises(DBAPIError) as wrapped:
                async with database.session() as session:
                    await session.execute(text("SELECT 1"))
            with pytest.raises(asyncpg.CannotConnectNowError) as bare:
                await database.fetch_one(Statement("SELECT 1 AS one"))
        finally:
            await database.dispose()
    assert not isinstance(wrapped.value.orig, asyncpg.PostgresError)  # SQLAlchemy's own
    assert database_unavailable(wrapped.value) and database_unavailable(bare.value)
    constraint = IntegrityError("INSERT …", {}, Exception("duplicate key"))
    assert not database_unavailable(constraint)


# Refresh chains in flight while the connection path is cut (a restart: reset, refused) and
# the backends are terminated (a restart's goodbye: FATAL 57P01 on every idle connection).
WORKERS = 12
ROUNDS = 3


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_restarts_under_load_give_503s_and_never_a_500(
    database_url: str, tmp_path: Path, issuer_log: list[logging.LogRecord]
) -> None:
    proxy = TcpProxy.to(database_url)
    statuses: Counter[int] = Counter()
    unexpected: list[str] = []
    try:
        settings = make_settings(proxy.url_for(database_url), tmp_path / "keys")
        async with serving_in_loop(settings) as (http, runtime):
            await add_user(runtime.database, runtime)
            secret = await add_client(runtime.database, runtime)
            done = asyncio.Event()

            async def chain() -> None:
                token: str | None = None
                while not done.is_set():
                    response = await (
                        refresh(http, secret, token) if token else login(http, secret)
                    )
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        token = response.json()["refresh_token"]
                    elif response.status_code in (503, 429):
                        # 429: logins that met an outage after their reservation count as
                        # failures (the throttle's rule), and these are all one user's.
                        expected = (
                            "temporarily_unavailable"
                            if response.status_code == 503
                            else "slow_down"
                        )
                        assert response.json()["error"] == expected, response.text
                        await asyncio.sleep(0.05)
                    elif response.status_code == 400:
                        # A rotation committed whose answer was lost: the retry is reuse.
                        assert response.json()["error"] == "invalid_grant", response.text
                        token = None
                    else:
                        unexpected.append(f"{response.status_code} {response.text}")

            async def restarts() -> None:
                for _ in range(ROUNDS):
                    await asyncio.sleep(0.8)
                    await terminate_backends(database_url)
                    await asyncio.sleep(0.3)
                    await asyncio.to_thread(proxy.cut)
                    await asyncio.sleep(0.3)
                    await asyncio.to_thread(proxy.restore)
                await asyncio.sleep(0.8)
                done.set()

            await asyncio.gather(restarts(), *(chain() for _ in range(WORKERS)))
            # Back to normal once the path is restored (another user: ada's throttle budget
            # may be spent by logins that met the outage).
            await add_user(runtime.database, runtime, "bob@example.com")
            assert (await login(http, secret, username="bob@example.com")).status_code == 200
            assert http.max_in_flight >= WORKERS // 2, http.max_in_flight
    finally:
        proxy.close()
    assert proxy.cuts == ROUNDS
    assert not unexpected, unexpected[:5]
    assert statuses[503] > 0 and statuses[200] > 100, statuses
    assert not any(status >= 500 and status != 503 for status in statuses), statuses
    unavailable = [r for r in issuer_log if r.getMessage().startswith("database unavailable")]
    assert len(unavailable) == statuses[503]  # the log is really recorded here
    errors = [r for r in issuer_log if r.name == "issuer.errors" and r.levelno >= logging.ERROR]
    assert not errors, errors[:3]


async def terminate_backends(database_url: str) -> None:
    """pg_terminate_backend on every connection of the test database but this one."""
    connection = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
