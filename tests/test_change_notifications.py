"""Key-ring and client changes reach every process at once (Postgres LISTEN/NOTIFY), far
sooner than the polls they used to wait for; through PgBouncer in transaction mode over the
direct ISSUER_DATABASE_LISTEN_URL, or by polling alone (said once in the log)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path

import httpx
import pytest

from issuer.accounts.clients import disable_client
from issuer.keyring.rotation import rotate
from issuer.oauth.server import CLIENT_CACHE_SECONDS
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import add_client, post_form, serving_in_loop
from tests.pgbouncer import PgBouncer
from tests.served import issuer_serve
from tests.web.test_database_outage import terminate_backends

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

# Polls this far apart would never be seen in the test: only a notification explains it.
RING_REFRESH = 300
# A notification, one reload (a query and decrypting the keys) on a loaded two-core machine.
SEEN_WITHIN = 2.5
CC = {"grant_type": "client_credentials"}


async def rotate_now(runtime: Runtime, database: Database) -> str:
    """Rotate RS256 from `database` (another process's connection); the new next kid."""
    result = await rotate(
        database,
        settings=runtime.settings,
        kek=runtime.kek,
        alg="RS256",
        force=True,
        now=runtime.clock(),
        actor="other-process",
    )
    assert result.rotated and result.next
    return result.next


async def seconds_until(check: object, limit: float = 30.0) -> float:
    """How long until `check()` (an async predicate) holds; fails after `limit` seconds."""
    started = time.monotonic()
    while not await check():  # type: ignore[operator]
        assert time.monotonic() - started < limit, "never seen"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_rotation_and_a_client_disable_reach_another_process_at_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "keys")
    async with serving_in_loop(settings) as (_, here):
        secret = await add_client(here.database, here, "svc", grant_types=["client_credentials"])
        async with (
            issuer_serve(settings, tmp_path, ISSUER_RING_REFRESH_SECONDS=RING_REFRESH) as other,
            httpx.AsyncClient(base_url=other.url, timeout=30) as http,
        ):
            # The other process caches the client now (for CLIENT_CACHE_SECONDS).
            token = await post_form(http, "/oauth/token", CC, auth=("svc", secret))
            assert token.status_code == 200, token.text
            fresh = await rotate_now(here, here.database)

            async def published() -> bool:
                jwks = (await http.get("/.well-known/jwks.json")).json()
                return fresh in {key["kid"] for key in jwks["keys"]}

            key_delay = await seconds_until(published)
            await disable_client(here.database, "svc", now=here.clock(), actor="t")

            async def refused() -> bool:
                answer = await post_form(http, "/oauth/token", CC, auth=("svc", secret))
                return bool(answer.status_code == 401)

            client_delay = await seconds_until(refused)
    assert key_delay < SEEN_WITHIN, key_delay
    assert client_delay < min(SEEN_WITHIN, CLIENT_CACHE_SECONDS / 2), client_delay


async def test_listening_resumes_after_the_connection_is_lost(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path / "keys", ISSUER_RING_REFRESH_SECONDS=RING_REFRESH
    )
    other = Database(database_url)
    try:
        async with serving_in_loop(settings) as (_, here):
            assert here.changes is not None
            await asyncio.wait_for(here.changes.listening.wait(), 10)
            await terminate_backends(database_url)  # a restart or failover, as seen from here
            await seconds_until(lambda: _is(not here.changes.listening.is_set()), 10)  # type: ignore[union-attr]
            await asyncio.wait_for(here.changes.listening.wait(), 10)
            fresh = await rotate_now(here, other)
            delay = await seconds_until(lambda: _is(fresh in here.keys.ring.keys))
    finally:
        await other.dispose()
    assert delay < SEEN_WITHIN, delay


async def _is(value: bool) -> bool:
    return value


async def test_through_pgbouncer_changes_arrive_over_the_direct_listen_url(
    database_url: str, pgbouncer: PgBouncer, tmp_path: Path, issuer_log: list[logging.LogRecord]
) -> None:
    pooled = pgbouncer.url_for(database_url)
    listening = make_settings(
        pooled,
        tmp_path / "keys",
        ISSUER_DATABASE_LISTEN_URL=database_url,
        ISSUER_RING_REFRESH_SECONDS=RING_REFRESH,
    )
    assert listening.database_pooling == "transaction"
    async with serving_in_loop(listening) as (_, here):
        assert here.changes is not None
        await asyncio.wait_for(here.changes.listening.wait(), 10)
        fresh = await rotate_now(here, here.database)
        delay = await seconds_until(lambda: _is(fresh in here.keys.ring.keys))
    assert delay < SEEN_WITHIN, delay

    polling: Settings = dataclasses.replace(listening, database_listen_url=None)
    async with serving_in_loop(polling) as (_, here):
        assert here.changes is None
    said = [r.getMessage() for r in issuer_log if "polling only" in r.getMessage()]
    assert len(said) == 1 and "ISSUER_DATABASE_LISTEN_URL" in said[0], said
