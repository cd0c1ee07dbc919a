"""Concurrent refreshes of one token, really interleaved in one event loop (and, at the end,
over real HTTP against `issuer serve` with two workers), on SQLite and Postgres: the code
path production takes (`families.rotate`, then `settle_failed_rotation`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx

from issuer.clock import utcnow
from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import (
    add_client,
    add_user,
    family_is_live,
    login,
    refresh,
    serving_in_loop,
    stored_family,
)
from tests.served import issuer_serve

TRIALS = 20
CONCURRENT = 10


async def test_concurrent_refreshes_have_one_winner_then_the_family_is_revoked(
    database_url: str, tmp_path: Path
) -> None:
    # Without a grace window (the default one lets the racers share the successor, below).
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_REFRESH_GRACE_SECONDS=0)
    async with serving_in_loop(settings) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        for trial in range(TRIALS):
            tokens = (await login(http, secret)).json()
            token = tokens["refresh_token"]
            responses = await asyncio.gather(
                *(refresh(http, secret, token) for _ in range(CONCURRENT))
            )
            statuses = Counter(response.status_code for response in responses)
            assert statuses == {200: 1, 400: CONCURRENT - 1}, (trial, statuses)
            assert {r.json()["error"] for r in responses if r.status_code == 400} == {
                "invalid_grant"
            }
            winner = next(r.json() for r in responses if r.status_code == 200)
            sid = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")["sid"]
            async with runtime.database.session() as session:
                row = await stored_family(session, sid)
            assert row is not None and row.revoked_reason == "reuse", trial
            assert (await refresh(http, secret, winner["refresh_token"])).status_code == 400
        # The requests really were in flight together, not one after another.
        assert http.max_in_flight >= CONCURRENT // 2, http.max_in_flight


async def test_with_grace_every_concurrent_refresh_gets_the_same_successor(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_REFRESH_GRACE_SECONDS=30)
    async with serving_in_loop(settings) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        for trial in range(TRIALS):
            tokens = (await login(http, secret)).json()
            token = tokens["refresh_token"]
            responses = await asyncio.gather(
                *(refresh(http, secret, token) for _ in range(CONCURRENT))
            )
            assert [r.status_code for r in responses] == [200] * CONCURRENT, trial
            successors = {r.json()["refresh_token"] for r in responses}
            assert len(successors) == 1, trial
            sid = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")["sid"]
            async with runtime.database.session() as session:
                assert await family_is_live(session, sid, now=runtime.clock())
            assert (await refresh(http, secret, successors.pop())).status_code == 200


async def test_concurrent_refreshes_against_issuer_serve_with_two_workers(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "keys")
    async with (
        issuer_serve(settings, tmp_path, workers=2, ISSUER_REFRESH_GRACE_SECONDS=0) as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as http,
    ):
        database = Database(database_url)
        try:
            helpers = cast(Runtime, SimpleNamespace(clock=utcnow, settings=settings))
            await add_user(database, helpers)
            secret = await add_client(database, helpers)
        finally:
            await database.dispose()
        for trial in range(10):
            token = (await login(http, secret)).json()["refresh_token"]
            responses = await asyncio.gather(
                *(refresh(http, secret, token) for _ in range(CONCURRENT))
            )
            statuses = Counter(r.status_code for r in responses)
            assert statuses == {200: 1, 400: CONCURRENT - 1}, (trial, statuses)
            winner = next(r.json() for r in responses if r.status_code == 200)
            assert (await refresh(http, secret, winner["refresh_token"])).status_code == 400
