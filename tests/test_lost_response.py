"""A refresh whose response is lost (a proxy's 502, a client that gave up) is retried with
the same token: within ISSUER_REFRESH_GRACE_SECONDS (10 s by default) the retry gets the
successor the lost response carried, and the session lives on. Over real HTTP against
`issuer serve` with two workers (the retry may reach the other process), on SQLite and
Postgres; the window's edges with an injected clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import cast
from urllib.parse import urlencode

import httpx
import pytest

from issuer.clock import utcnow
from issuer.oauth import handles
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import audit
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import (
    FORM,
    MovableClock,
    add_client,
    add_user,
    basic,
    family_is_live,
    login,
    refresh,
    serving,
    stored_refresh_token,
)
from tests.served import Served, issuer_serve

TRIALS = 20

# How a response gets lost: given the server, the store, the client's secret and a refresh
# token, send the refresh so that it commits and the client never sees the answer.
Loser = Callable[[Served, Database, str, str], Awaitable[None]]


@asynccontextmanager
async def gateway_answering_502(upstream: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A reverse proxy that forwards a request, reads the issuer's whole answer and then
    answers 502 instead (what a client behind a load balancer sees when the upstream answer
    is cut off). Yields its URL and the statuses the issuer really answered."""
    answered: list[int] = []

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        fields = [line.split(": ", 1) for line in head[1:] if line]
        headers = {name: value for name, value in fields}
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), 0))
        body = await reader.readexactly(length)
        hop = {"host", "content-length", "connection"}
        async with httpx.AsyncClient(base_url=upstream, timeout=30) as http:
            upstream_answer = await http.request(
                method,
                target,
                headers={k: v for k, v in headers.items() if k.lower() not in hop},
                content=body,
            )
        answered.append(upstream_answer.status_code)
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", answered


async def through_a_gateway_that_answers_502(
    served: Served, database: Database, secret: str, token: str
) -> None:
    async with (
        gateway_answering_502(served.url) as (url, answered),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        response = await refresh(http, secret, token)
    assert response.status_code == 502
    assert answered == [200]  # the issuer did rotate: only the answer was lost


async def by_giving_up_before_the_answer(
    served: Served, database: Database, secret: str, token: str
) -> None:
    """A client that times out: the request is sent whole, the connection is closed unread
    once the rotation has committed (seen from another connection, as the client cannot)."""
    body = urlencode({"grant_type": "refresh_token", "refresh_token": token})
    headers = {
        "Host": f"127.0.0.1:{served.port}",
        **FORM,
        **basic("web", secret),
        "Content-Length": str(len(body)),
    }
    request = "POST /oauth/token HTTP/1.1\r\n"
    request += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    _, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write((request + "\r\n" + body).encode())
    await writer.drain()
    deadline = time.monotonic() + 30
    while (await stored_refresh_token(database, token))[0].used_at is None:
        assert time.monotonic() < deadline, "the rotation never committed"
        await asyncio.sleep(0.01)
    writer.close()  # the answer is in the socket's buffer, never read
    await writer.wait_closed()


@pytest.mark.parametrize(
    "lose", [through_a_gateway_that_answers_502, by_giving_up_before_the_answer]
)
async def test_a_retry_after_a_lost_response_gets_the_same_successor(
    database_url: str, tmp_path: Path, lose: Loser
) -> None:
    settings = make_settings(database_url, tmp_path / "keys")  # the default window
    assert settings.refresh_grace_seconds == 10
    database = Database(database_url)
    try:
        helpers = cast(Runtime, SimpleNamespace(clock=utcnow, settings=settings))
        await add_user(database, helpers)
        secret = await add_client(database, helpers)
        assert secret is not None
        recovered = 0
        async with (
            issuer_serve(settings, tmp_path, workers=2) as served,
            httpx.AsyncClient(base_url=served.url, timeout=30) as http,
        ):
            for trial in range(TRIALS):
                token = (await login(http, secret)).json()["refresh_token"]
                await lose(served, database, secret, token)
                consumed, family = await stored_refresh_token(database, token)
                assert consumed.used_at is not None and consumed.successor_jti, trial

                retry = await refresh(http, secret, token)

                assert retry.status_code == 200, (trial, retry.text)
                successor = retry.json()["refresh_token"]
                # The successor the lost response carried, not a second branch.
                assert handles.parse(successor) == consumed.successor_jti, trial
                # The session lives on: the successor rotates in its turn.
                assert (await refresh(http, secret, successor)).status_code == 200, trial
                async with database.session() as session:
                    assert await family_is_live(session, family.id, now=utcnow()), trial
                recovered += 1
        async with database.session() as session:
            assert await audit.recent(session, action="family.reuse") == []
        assert recovered == TRIALS
    finally:
        await database.dispose()


async def open_session(
    client: httpx.AsyncClient, runtime: Runtime, database: Database
) -> tuple[str, str]:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    assert secret is not None
    return secret, (await login(client, secret)).json()["refresh_token"]


async def test_a_retry_at_the_end_of_the_default_window_is_served_and_after_it_is_reuse(
    settings: Settings, database: Database
) -> None:
    clock = MovableClock()
    window = settings.refresh_grace_seconds
    async with serving(settings, clock) as (client, runtime):
        secret, token = await open_session(client, runtime, database)
        lost = (await refresh(client, secret, token)).json()["refresh_token"]
        clock.advance(window)
        retry = await refresh(client, secret, token)
        assert retry.status_code == 200 and retry.json()["refresh_token"] == lost

        late = (await login(client, secret)).json()["refresh_token"]
        await refresh(client, secret, late)
        clock.advance(window + 1)
        replay = await refresh(client, secret, late)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        _, family = await stored_refresh_token(database, late)
        assert family.revoked_reason == "reuse"


async def test_a_stolen_token_replayed_in_the_window_gets_no_new_branch(
    settings: Settings, database: Database
) -> None:
    """The trade-off: a thief replaying the token within the window gets the client's own
    successor, not a branch of its own; when the other party next refreshes (past the
    window), that is reuse and the session ends for both."""
    clock = MovableClock()
    async with serving(settings, clock) as (client, runtime):
        secret, token = await open_session(client, runtime, database)
        clients = (await refresh(client, secret, token)).json()["refresh_token"]
        clock.advance(1)
        thiefs = (await refresh(client, secret, token)).json()["refresh_token"]
        assert thiefs == clients
        clock.advance(1)
        onward = await refresh(client, secret, thiefs)  # the thief goes on first
        assert onward.status_code == 200
        clock.advance(runtime.settings.access_token_ttl)  # the client's next refresh
        caught = await refresh(client, secret, clients)
        assert caught.status_code == 400 and caught.json()["error"] == "invalid_grant"
        _, family = await stored_refresh_token(database, token)
        assert family.revoked_reason == "reuse"
        stolen_on = await refresh(client, secret, onward.json()["refresh_token"])
        assert stolen_on.status_code == 400
