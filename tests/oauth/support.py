"""Helpers shared by the token tests: users, clients and requests, on the app's real stores.

Over HTTP the app runs on the test client's own event loop, so tests reach the database
through the `database` fixture (same URL), never through the app's engine.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.accounts.clients import create_client
from issuer.accounts.users import create_user
from issuer.app import create_app
from issuer.clock import Clock, utcnow
from issuer.oauth import handles
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import families, users
from issuer.store.database import Database
from issuer.store.models import RefreshFamily, RefreshToken

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PASSWORD = "correct horse battery staple"
API = "https://api.example.com"


async def add_user(
    database: Database,
    runtime: Runtime,
    email: str = "ada@example.com",
    *,
    password: str = PASSWORD,
    roles: Sequence[str] = ("reader",),
    disabled: bool = False,
) -> str:
    async with database.session() as session:
        user = await create_user(
            session, email=email, password=password, roles=roles, now=runtime.clock(), actor="t"
        )
        if disabled:
            await users.set_disabled(session, user.id, True)
    return user.id


async def add_client(
    database: Database,
    runtime: Runtime,
    client_id: str = "web",
    *,
    grant_types: Sequence[str] = ("password", "refresh_token"),
    scopes: Sequence[str] = ("read", "write"),
    audiences: Sequence[str] = (API, "https://other.example.com"),
    public: bool = False,
    alg: str | None = None,
    access_token_ttl: int | None = None,
    refresh_token_ttl: int | None = None,
) -> str | None:
    async with database.session() as session:
        new = await create_client(
            session,
            client_id=client_id,
            grant_types=grant_types,
            scopes=scopes,
            audiences=audiences,
            default_audience=runtime.settings.url,
            public=public,
            alg=alg,
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            now=runtime.clock(),
            actor="t",
        )
    return new.secret


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret or '')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def post_form(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient,
    path: str,
    data: dict[str, str],
    *,
    auth: tuple[str, str | None] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    sent = {**FORM, **(basic(*auth) if auth else {}), **(headers or {})}
    return await client.post(path, data=data, headers=sent)


async def login(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient,
    secret: str | None,
    *,
    client_id: str = "web",
    username: str = "ada@example.com",
    password: str = PASSWORD,
    **extra: str,
) -> Any:
    data = {"grant_type": "password", "username": username, "password": password, **extra}
    return await post_form(client, "/oauth/token", data, auth=(client_id, secret))


async def refresh(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient,
    secret: str | None,
    refresh_token: str,
    *,
    client_id: str = "web",
    **extra: str,
) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return await post_form(client, "/oauth/token", data, auth=(client_id, secret))


class MovableClock:
    """An injected clock that tests move forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@asynccontextmanager
async def serving(
    settings: Settings, clock: Clock = utcnow
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], Runtime]]:
    """An app with its own settings and clock, behind Litestar's test client."""
    app = create_app(settings, clock=clock)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client, app.state.runtime


class InLoopClient(httpx.AsyncClient):
    max_in_flight = 0


@asynccontextmanager
async def serving_in_loop(
    settings: Settings, clock: Clock = utcnow
) -> AsyncIterator[tuple[InLoopClient, Runtime]]:
    """An app on the test's own event loop: requests sent with gather really interleave
    (Litestar's test client hands each request to another thread one at a time).
    The client's `max_in_flight` is the most requests the app had at once."""
    app = create_app(settings, clock=clock)
    in_flight = 0
    http: InLoopClient

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        nonlocal in_flight
        in_flight += 1
        http.max_in_flight = max(http.max_in_flight, in_flight)
        try:
            await app(scope, receive, send)
        finally:
            in_flight -= 1

    async with app.lifespan():
        transport = httpx.ASGITransport(app=counting, client=("203.0.113.7", 40000))
        async with InLoopClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            yield http, app.state.runtime


async def store_family(
    session: AsyncSession,
    *,
    family_id: str,
    user_id: str,
    client_id: str,
    scope: str,
    audience: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """A refresh family stored as a fixture (the issuer stores them with its first token)."""
    session.add(
        RefreshFamily(
            id=family_id,
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            audience=audience,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def add_refresh_token(
    session: AsyncSession,
    *,
    jti: str,
    family_id: str,
    scope: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """A refresh token of a stored family, as a fixture."""
    session.add(
        RefreshToken(
            jti=jti, family_id=family_id, scope=scope, issued_at=now, expires_at=expires_at
        )
    )
    await session.flush()


async def stored_family(session: AsyncSession, family_id: str) -> RefreshFamily | None:
    """A family's row as stored, to check how it ended."""
    return await session.get(RefreshFamily, family_id)


async def family_is_live(session: AsyncSession, family_id: str, *, now: datetime) -> bool:
    """Whether the store's own rule (`families.live_family`) holds for this family now."""
    query = select(exists().where(RefreshFamily.id == family_id, families.live_family(now)))
    return bool(await session.scalar(query))


async def stored_refresh_token(
    database: Database, token: str
) -> tuple[RefreshToken, RefreshFamily]:
    """The stored row of one of our opaque refresh tokens (by its digest) and its family."""
    digest = handles.parse(token)
    assert digest is not None, token
    async with database.session() as session:
        found = await families.find_token(session, digest)
    assert found is not None
    return found
