"""The login throttle under concurrency: in one process, and across processes on one database."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx

from issuer.clock import utcnow
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store.database import Database
from tests.oauth.support import add_client, add_user, login, serving_in_loop
from tests.test_race_refresh import wait_ready
from tests.test_serve import clean_env, free_port

GUESSES = 50


async def test_concurrent_wrong_passwords_get_at_most_the_limit_of_verdicts(
    settings: Settings,
) -> None:
    async with serving_in_loop(settings) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        responses = await asyncio.gather(
            *(login(http, secret, password=f"guess {n}") for n in range(GUESSES))
        )
        limit = runtime.settings.login_max_failures
        statuses = Counter(response.status_code for response in responses)
        # Each attempt is counted before its password is checked: only `limit` of them get
        # a verdict; the others are throttled without one.
        assert statuses == {400: limit, 429: GUESSES - limit}, statuses
        assert {r.json()["error"] for r in responses if r.status_code == 429} == {"slow_down"}
        assert all("retry-after" in r.headers for r in responses if r.status_code == 429)
        # The requests really were in flight together, not one after another.
        assert http.max_in_flight >= GUESSES // 2, http.max_in_flight
        # And the right password now waits too: those failures are counted.
        assert (await login(http, secret)).status_code == 429


async def test_a_right_password_takes_its_attempt_back(settings: Settings) -> None:
    async with serving_in_loop(settings) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        limit = runtime.settings.login_max_failures
        for _ in range(3 * limit):
            assert (await login(http, secret)).status_code == 200
        for _ in range(limit - 1):
            assert (await login(http, secret, password="wrong")).status_code == 400
        assert (await login(http, secret)).status_code == 200


def serve(port: int, settings: Settings, directory: Path) -> subprocess.Popen[bytes]:
    env = clean_env() | {
        "ISSUER_URL": "http://127.0.0.1:8000",
        "ISSUER_DATABASE_URL": settings.database_url,
        "ISSUER_KEK": base64.urlsafe_b64encode(settings.kek or b"").rstrip(b"=").decode(),
        "ISSUER_KEYS_DIR": str(directory / "keys"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "issuer", "serve", "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def test_two_processes_on_one_database_share_the_limit(
    settings: Settings, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    servers: list[subprocess.Popen[bytes]] = []
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) for port in ports]
    try:
        # One at a time, so that the first creates the signing keys the second loads.
        for port, http in zip(ports, clients, strict=True):
            servers.append(serve(port, settings, tmp_path))
            await wait_ready(http)
        database = Database(settings.database_url)
        try:
            helpers = cast(Runtime, SimpleNamespace(clock=utcnow, settings=settings))
            await add_user(database, helpers)
            secret = await add_client(database, helpers)
        finally:
            await database.dispose()
        guesses = 16
        responses = await asyncio.gather(
            *(login(clients[n % 2], secret, password=f"guess {n}") for n in range(guesses))
        )
        statuses = Counter(response.status_code for response in responses)
        limit = settings.login_max_failures
        assert statuses == {400: limit, 429: guesses - limit}, statuses
        # Both processes answered some of them: the guesses really were spread.
        per_process = [Counter(r.status_code for r in responses[n::2]) for n in range(2)]
        assert all(sum(answered.values()) == guesses // 2 for answered in per_process)
    finally:
        for http in clients:
            await http.aclose()
        outputs = []
        for server in servers:
            server.terminate()
            outputs.append(server.communicate(timeout=30)[0].decode())
    assert not any("Traceback" in output for output in outputs), outputs
