"""RFC 7662 over HTTP: active only for live tokens of ours, nothing else when inactive."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store import families, users
from issuer.store.database import Database
from tests.oauth.support import add_client, add_user, login, post_form, refresh
from tests.web.conftest import MintToken

# Through PgBouncer in transaction mode as well (issue 13).
pytestmark = pytest.mark.through_pgbouncer

Client = AsyncTestClient[Litestar]


async def setup(client: Client, runtime: Runtime, database: Database) -> tuple[str, Any]:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    await add_client(database, runtime, "rs", grant_types=["client_credentials"])
    assert secret is not None
    return secret, (await login(client, secret)).json()


async def inspect(client: Client, secret: str | None, token: str, client_id: str = "web") -> Any:
    response = await post_form(
        client, "/oauth/introspect", {"token": token}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def test_a_live_access_token_is_active_with_its_claims(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, tokens = await setup(client, runtime, database)
    body = await inspect(client, secret, tokens["access_token"])
    claims = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")
    assert body["active"] is True and body["token_type"] == "Bearer"
    for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti"):
        assert body[name] == claims[name]


async def test_a_live_refresh_token_is_active_for_its_own_client_only(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, tokens = await setup(client, runtime, database)
    body = await inspect(client, secret, tokens["refresh_token"])
    assert body["active"] is True and body["token_type"] == "refresh_token"
    other = await add_client(database, runtime, "other")
    assert await inspect(client, other, tokens["refresh_token"], "other") == {"active": False}
    # Once rotated, the old refresh token is no longer active.
    await refresh(client, secret, tokens["refresh_token"])
    assert await inspect(client, secret, tokens["refresh_token"]) == {"active": False}


async def test_revoked_family_makes_its_access_tokens_inactive(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, tokens = await setup(client, runtime, database)
    sid = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")["sid"]
    async with database.session() as session:
        await families.revoke(session, sid, reason="logout", now=runtime.clock())
    assert await inspect(client, secret, tokens["access_token"]) == {"active": False}
    assert await inspect(client, secret, tokens["refresh_token"]) == {"active": False}


async def test_deny_listed_expired_forged_and_wrongly_typed_tokens_are_inactive(
    client: Client, runtime: Runtime, database: Database, mint_token: MintToken
) -> None:
    secret, tokens = await setup(client, runtime, database)
    await post_form(
        client, "/oauth/revoke", {"token": tokens["access_token"]}, auth=("web", secret)
    )
    head, payload, signature = mint_token().split(".")
    inactive = [
        tokens["access_token"],  # deny-listed
        mint_token(ttl=-60),  # expired
        mint_token(typ="JWT"),  # wrong typ
        mint_token(iss="https://evil.example.com"),  # another issuer
        f"{head}.{payload}.{signature[:-4]}AAAA",  # forged signature
        "not-a-token",
    ]
    for token in inactive:
        assert await inspect(client, secret, token) == {"active": False}, token


async def test_an_unknown_key_is_inactive(
    client: Client, runtime: Runtime, database: Database
) -> None:
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    secret, _ = await setup(client, runtime, database)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    now = int(runtime.clock().timestamp())
    claims = {"iss": runtime.settings.url, "sub": "x", "aud": "a", "exp": now + 60, "iat": now}
    token = jwt.encode({"alg": "RS256", "kid": "stranger", "typ": "at+jwt"}, claims, stranger)
    assert await inspect(client, secret, token) == {"active": False}


async def test_a_resource_server_may_introspect_client_credentials_tokens(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime, "svc", grant_types=["client_credentials"])
    cc = await post_form(
        client, "/oauth/token", {"grant_type": "client_credentials"}, auth=("svc", secret)
    )
    body = await inspect(client, secret, cc.json()["access_token"], "svc")
    assert body["active"] is True and body["sub"] == "svc" == body["client_id"]


async def test_introspection_needs_a_confidential_client(
    client: Client, runtime: Runtime, database: Database
) -> None:
    _, tokens = await setup(client, runtime, database)
    await add_client(database, runtime, "spa", grant_types=["refresh_token"], public=True)
    data = {"token": tokens["access_token"]}
    assert (await post_form(client, "/oauth/introspect", data)).status_code == 401
    public = await post_form(client, "/oauth/introspect", {**data, "client_id": "spa"})
    assert public.status_code == 401 and public.json()["error"] == "invalid_client"


async def test_a_disabled_users_tokens_are_inactive(
    client: Client, runtime: Runtime, database: Database
) -> None:
    # Only the flag: no family is revoked (the admin API would also revoke them), so the
    # family's own rule must hold the user's state, as rotation's does.
    secret, tokens = await setup(client, runtime, database)
    sub = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")["sub"]
    async with database.session() as session:
        await users.set_disabled(session, sub, True)
    assert await inspect(client, secret, tokens["access_token"]) == {"active": False}
    assert await inspect(client, secret, tokens["refresh_token"]) == {"active": False}
    async with database.session() as session:
        await users.set_disabled(session, sub, False)
    assert (await inspect(client, secret, tokens["access_token"]))["active"] is True
