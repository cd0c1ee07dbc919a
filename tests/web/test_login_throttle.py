"""The login throttle: its policy (pairs and ceilings), the address behind trusted proxies,
and concurrency in one process and across processes on one database."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
import pytest

from issuer.clock import utcnow
from issuer.oauth.throttle import CEILING_FACTOR
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import login_attempts
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import (
    PASSWORD,
    InLoopClient,
    add_client,
    add_user,
    login,
    post_form,
    serving_in_loop,
)
from tests.served import issuer_serve, wait_ready
from tests.test_serve import clean_env, free_port

GUESSES = 50
# serving_in_loop's peer address, and the proxy range the policy tests trust.
PROXY = "203.0.113.7"
PROXIES = "203.0.113.0/24"


def behind(*hops: str) -> dict[str, str]:
    """The X-Forwarded-For header a client at hops[0] gets through the proxies after it."""
    return {"X-Forwarded-For": ", ".join(hops)}


async def login_via(
    http: httpx.AsyncClient,
    secret: str | None,
    headers: dict[str, str],
    *,
    username: str = "ada@example.com",
    password: str = PASSWORD,
) -> httpx.Response:
    data = {"grant_type": "password", "username": username, "password": password}
    response: httpx.Response = await post_form(
        http, "/oauth/token", data, auth=("web", secret), headers=headers
    )
    return response


@asynccontextmanager
async def behind_proxies(
    settings: Settings, tmp_path: Path, trusted: str = PROXIES
) -> AsyncIterator[tuple[InLoopClient, Runtime, str | None]]:
    """An app that trusts `trusted`, with the user ada and the client `web`."""
    proxied = make_settings(
        settings.database_url, tmp_path / "keys", ISSUER_TRUSTED_PROXIES=trusted
    )
    async with serving_in_loop(proxied) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        yield http, runtime, secret


async def test_a_guesser_at_one_address_holds_up_nobody_else(
    settings: Settings, tmp_path: Path
) -> None:
    async with behind_proxies(settings, tmp_path) as (http, runtime, secret):
        limit = runtime.settings.login_max_failures
        guesser, user = behind("198.51.100.66"), behind("198.51.100.1")
        for _ in range(limit):
            wrong = await login_via(http, secret, guesser, password="wrong")
            assert wrong.status_code == 400
        # The guesser's pair is throttled, even with the right password...
        blocked = await login_via(http, secret, guesser)
        assert blocked.status_code == 429 and blocked.json()["error"] == "slow_down"
        assert 1 <= int(blocked.headers["retry-after"]) <= runtime.settings.login_window_seconds
        # ...but the same account from another address, and another account from the
        # guesser's address, log in (the old per-address limit throttled both).
        assert (await login_via(http, secret, user)).status_code == 200
        await add_user(runtime.database, runtime, "bob@example.com")
        bob = await login_via(http, secret, guesser, username="bob@example.com")
        assert bob.status_code == 200


async def test_an_account_guessed_from_many_addresses_slows_down_at_its_ceiling(
    settings: Settings, tmp_path: Path
) -> None:
    async with behind_proxies(settings, tmp_path) as (http, runtime, secret):
        ceiling = CEILING_FACTOR * runtime.settings.login_max_failures
        for n in range(ceiling):
            wrong = await login_via(http, secret, behind(f"192.0.2.{n}"), password="wrong")
            assert wrong.status_code == 400, n
        blocked = await login_via(http, secret, behind("198.51.100.1"))
        assert blocked.status_code == 429 and "retry-after" in blocked.headers


async def test_an_address_spraying_accounts_slows_down_at_its_ceiling(
    settings: Settings, tmp_path: Path
) -> None:
    async with behind_proxies(settings, tmp_path) as (http, runtime, secret):
        sprayer = behind("198.51.100.66")
        ceiling = CEILING_FACTOR * runtime.settings.login_max_failures
        for n in range(ceiling):
            name = f"user{n}@example.com"
            assert (await login_via(http, secret, sprayer, username=name)).status_code == 400
        assert (await login_via(http, secret, sprayer)).status_code == 429
        assert (await login_via(http, secret, behind("198.51.100.1"))).status_code == 200


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    settings: Settings, tmp_path: Path
) -> None:
    async with behind_proxies(settings, tmp_path, trusted="10.0.0.0/8") as (http, runtime, secret):
        limit = runtime.settings.login_max_failures
        # A new X-Forwarded-For on every guess does not make a new address.
        for n in range(limit):
            spoofed = behind(f"192.0.2.{n}")
            assert (await login_via(http, secret, spoofed, password="x")).status_code == 400
        assert (await login_via(http, secret, behind("192.0.2.99"))).status_code == 429


async def test_behind_trusted_proxies_the_client_is_the_right_most_untrusted_hop(
    settings: Settings, tmp_path: Path
) -> None:
    async with behind_proxies(settings, tmp_path) as (http, runtime, secret):
        limit = runtime.settings.login_max_failures
        # What the client writes itself (left of the hop our proxy appended) is not believed.
        for n in range(limit):
            spoofed = behind(f"192.0.2.{n}", "198.51.100.66", "203.0.113.50")
            assert (await login_via(http, secret, spoofed, password="x")).status_code == 400
        again = behind("192.0.2.99", "198.51.100.66", "203.0.113.50")
        assert (await login_via(http, secret, again)).status_code == 429
        assert (
            await login_via(http, secret, behind("198.51.100.1"), password=PASSWORD)
        ).status_code == 200


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


async def test_concurrent_right_passwords_beyond_the_limit_all_log_in(
    settings: Settings,
) -> None:
    async with serving_in_loop(settings) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        many = 3 * runtime.settings.login_max_failures
        responses = await asyncio.gather(*(login(http, secret) for _ in range(many)))
        # More than the limit were in flight at once; those past it queued, not throttled.
        assert [r.status_code for r in responses] == [200] * many
        assert http.max_in_flight >= many // 2, http.max_in_flight


async def test_queued_logins_wait_at_the_gate_without_polling_the_counters(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[int] = []
    real_count = login_attempts.count

    async def count(*args: object, **kwargs: object) -> object:
        counted.append(1)
        return await real_count(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(login_attempts, "count", count)
    async with serving_in_loop(settings) as (http, runtime):
        await add_user(runtime.database, runtime)
        secret = await add_client(runtime.database, runtime)
        many = 4 * runtime.settings.login_max_failures
        responses = await asyncio.gather(*(login(http, secret) for _ in range(many)))
        assert [r.status_code for r in responses] == [200] * many
        # One count per attempt: the ones past the limit waited in this process's gate
        # instead of counting again and again while the first ones were being checked.
        assert len(counted) == many, len(counted)
        assert runtime.server.throttle._gates == {}  # nothing held once all are answered


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


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_wrong_guesses_alternating_between_two_processes_spend_one_budget(
    settings: Settings, tmp_path: Path
) -> None:
    """The issue's case: 8 wrong guesses, one after another, alternating between two
    processes. Per-process counters answered 5 + 5 (all 8 got a verdict); one budget in
    Postgres answers `limit` of them, then 429 from either process."""
    database = Database(settings.database_url)
    try:
        helpers = cast(Runtime, SimpleNamespace(clock=utcnow, settings=settings))
        await add_user(database, helpers)
        secret = await add_client(database, helpers)
    finally:
        await database.dispose()
    limit = settings.login_max_failures
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with (
        issuer_serve(settings, tmp_path / "a") as first,
        issuer_serve(settings, tmp_path / "b") as second,
        httpx.AsyncClient(base_url=first.url, timeout=30) as a,
        httpx.AsyncClient(base_url=second.url, timeout=30) as b,
    ):
        statuses = [
            (await login((a, b)[n % 2], secret, password=f"guess {n}")).status_code
            for n in range(8)
        ]
    assert statuses == [400] * limit + [429] * (8 - limit), statuses
    assert {statuses[n] for n in range(limit, 8, 2)} == {429}  # refused by the first
    assert {statuses[n] for n in range(limit + 1, 8, 2)} == {429}  # and by the second
