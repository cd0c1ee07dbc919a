"""The password grant over HTTP: login, errors, throttling, rehash, timing parity."""

from __future__ import annotations

import base64
import json

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from issuer.accounts import passwords
from issuer.metrics import LOGIN_FAILURES
from issuer.oauth.throttle import CEILING_FACTOR
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import users
from issuer.store.database import Database
from tests.oauth.support import (
    API,
    PASSWORD,
    MovableClock,
    add_client,
    add_user,
    family_is_live,
    login,
    post_form,
    serving,
    stored_refresh_token,
)

# Through PgBouncer in transaction mode as well (issue 13).
pytestmark = pytest.mark.through_pgbouncer

Client = AsyncTestClient[Litestar]


async def test_login_returns_a_bearer_pair_and_starts_a_family(
    client: Client, runtime: Runtime, database: Database
) -> None:
    user_id = await add_user(database, runtime)
    secret = await add_client(database, runtime)
    response = await login(client, secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == runtime.settings.access_token_ttl
    assert body["scope"] == "read write"
    assert response.headers["cache-control"] == "no-store"
    ring = runtime.keys.ring
    access = ring.verify(body["access_token"], typ="at+jwt")
    assert access["sub"] == user_id and access["aud"] == API and access["roles"] == ["reader"]
    assert access["client_id"] == "web" and access["iss"] == runtime.settings.url
    stored, family = await stored_refresh_token(database, body["refresh_token"])
    assert family.id == access["sid"] and stored.scope == "read write"
    async with database.session() as session:
        assert await family_is_live(session, access["sid"], now=runtime.clock())


async def test_a_login_may_ask_for_less_scope_and_another_allowed_audience(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    body = (await login(client, secret, scope="read", resource="https://other.example.com")).json()
    assert body["scope"] == "read"
    claims = runtime.keys.ring.verify(body["access_token"], typ="at+jwt")
    assert claims["aud"] == "https://other.example.com" and claims["scope"] == "read"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"scope": "read admin"}, "invalid_scope"),
        ({"audience": "https://evil.example.com"}, "invalid_target"),
        ({"audience": API, "resource": "https://other.example.com"}, "invalid_target"),
    ],
)
async def test_scope_and_audience_beyond_the_client_are_refused(
    client: Client, runtime: Runtime, database: Database, extra: dict[str, str], error: str
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    response = await login(client, secret, **extra)
    assert response.status_code == 400
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("username", "password"),
    [("ada@example.com", "wrong"), ("nobody@example.com", PASSWORD)],
)
async def test_wrong_password_and_unknown_user_look_the_same(
    client: Client, runtime: Runtime, database: Database, username: str, password: str
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    response = await login(client, secret, username=username, password=password)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "invalid username or password",
    }


async def test_metrics_do_not_tell_an_unknown_user_from_a_wrong_password(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)

    async def failures() -> dict[str, float]:
        text = (await client.get("/metrics")).text
        return {
            sample.labels["reason"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "issuer_login_failures"
            for sample in family.samples
            if sample.name == "issuer_login_failures_total"
        }

    before = await failures()
    await login(client, secret, username="nobody@example.com")
    middle = await failures()
    await login(client, secret, password="wrong")
    after = await failures()
    assert set(after) <= {"invalid_credentials", "throttled", "disabled"}
    # Both failures moved the same series by one: a scrape cannot tell them apart.
    assert middle == {**before, "invalid_credentials": before.get("invalid_credentials", 0) + 1}
    assert after == {**middle, "invalid_credentials": middle["invalid_credentials"] + 1}


async def test_an_unknown_email_pays_for_one_argon2_verification(
    client: Client, runtime: Runtime, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    real = passwords.HASHER
    hashes: list[str] = []

    class CountingHasher:
        def verify(self, hash: str, password: str) -> bool:
            hashes.append(hash)
            return real.verify(hash, password)

        def check_needs_rehash(self, hash: str) -> bool:
            return real.check_needs_rehash(hash)

    monkeypatch.setattr(passwords, "HASHER", CountingHasher())
    await login(client, secret, username="nobody@example.com")
    await login(client, secret, password="wrong")
    assert len(hashes) == 2
    assert hashes[0] == passwords._DUMMY_HASH  # the unknown user: the dummy hash
    assert hashes[1] != passwords._DUMMY_HASH  # the known user: their own hash


async def test_email_is_case_insensitive(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    assert (await login(client, secret, username=" ADA@Example.com ")).status_code == 200


async def test_disabled_user_cannot_log_in(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime, disabled=True)
    secret = await add_client(database, runtime)
    response = await login(client, secret)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_client_without_the_password_grant_is_unauthorized(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime, grant_types=["client_credentials"])
    response = await login(client, secret)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


async def test_missing_username_or_password_is_invalid_request(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime)
    data = {"grant_type": "password", "username": "ada@example.com"}
    response = await post_form(client, "/oauth/token", data, auth=("web", secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "password" in response.json()["error_description"]


async def test_failed_logins_are_throttled_per_account_with_retry_after(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    before = LOGIN_FAILURES.labels(reason="invalid_credentials")._value.get()
    limit = runtime.settings.login_max_failures
    for _ in range(limit):
        assert (await login(client, secret, password="wrong")).status_code == 400
    assert LOGIN_FAILURES.labels(reason="invalid_credentials")._value.get() == before + limit
    # Now even the right password waits: the account is locked for the window.
    blocked = await login(client, secret)
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "slow_down"
    retry_after = int(blocked.headers["retry-after"])
    assert 1 <= retry_after <= runtime.settings.login_window_seconds


async def test_throttling_is_per_address_too_and_ends_with_the_window(
    settings: Settings, database: Database
) -> None:
    clock = MovableClock()
    async with serving(settings, clock) as (client, runtime):
        await add_user(database, runtime)
        secret = await add_client(database, runtime)
        # Spread the failures over many unknown accounts from one address, up to its ceiling.
        for n in range(CEILING_FACTOR * runtime.settings.login_max_failures):
            await login(client, secret, username=f"guess{n}@example.com", password="x")
        blocked = await login(client, secret)
        assert blocked.status_code == 429 and "retry-after" in blocked.headers
        clock.advance(runtime.settings.login_window_seconds + 1)
        assert (await login(client, secret)).status_code == 200


async def test_login_rehashes_a_password_with_old_parameters(
    client: Client, runtime: Runtime, database: Database
) -> None:
    user_id = await add_user(database, runtime)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with database.session() as session:
        await users.set_hash(session, user_id, weak)
    secret = await add_client(database, runtime)
    assert (await login(client, secret)).status_code == 200
    async with database.session() as session:
        user = await users.by_id(session, user_id)
    assert user is not None and user.password_hash != weak
    assert not passwords.HASHER.check_needs_rehash(user.password_hash)


async def test_client_alg_and_lifetimes_are_used(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(
        database, runtime, alg="EdDSA", access_token_ttl=60, refresh_token_ttl=120
    )
    body = (await login(client, secret)).json()
    assert body["expires_in"] == 60
    header = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert header["alg"] == runtime.keys.ring.active["EdDSA"].jws_alg
    stored, _ = await stored_refresh_token(database, body["refresh_token"])
    assert int(stored.expires_at.timestamp()) - int(stored.issued_at.timestamp()) == 120
