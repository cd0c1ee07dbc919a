"""Losing the database connections mid-life: 503 temporarily_unavailable, never a 500, and
the next request works again on fresh connections (a Postgres restart or failover)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from issuer.runtime import Runtime
from issuer.store.database import Database
from issuer.web.errors import EXCEPTION_HANDLERS
from tests.oauth.support import add_client, add_user, login, refresh

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
