"""Refresh tokens are opaque handles (issue 11, item 0): no JWT library can take one for an
access token, the store knows them by digest only, and a grace replay derives its successor."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from issuer.clock import Clock, utcnow
from issuer.oauth import handles
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import families
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import (
    MovableClock,
    add_client,
    add_user,
    login,
    post_form,
    refresh,
    serving,
    stored_refresh_token,
)

KEY = handles.successor_key(b"k" * 32)


@dataclass
class Session:
    client: Any
    runtime: Runtime
    secret: str | None
    tokens: dict[str, Any]
    user_id: str


@asynccontextmanager
async def logged_in(
    settings: Settings, database: Database, clock: Clock = utcnow
) -> AsyncIterator[Session]:
    """An app, user ada with client "web", and the tokens of one password login."""
    async with serving(settings, clock) as (client, runtime):
        user_id = await add_user(database, runtime)
        secret = await add_client(database, runtime)
        tokens = (await login(client, secret)).json()
        yield Session(client, runtime, secret, tokens, user_id)


def test_a_refresh_token_is_a_prefix_and_256_random_bits() -> None:
    token = handles.new_refresh_token()
    assert token.startswith("rt_") and len(token) == 3 + 43
    assert token != handles.new_refresh_token()
    assert handles.parse(token) == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "rt_",
        "xx_" + "A" * 43,  # another prefix
        "rt_" + "A" * 42,  # too short
        "rt_" + "A" * 44,  # too long
        "rt_" + "A" * 42 + "=",  # not base64url
        "rt_" + "A" * 42 + "B",  # non-canonical: bits past the 256th
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",  # a JWS
    ],
)
def test_only_well_formed_handles_parse(token: str) -> None:
    assert handles.parse(token) is None


def test_the_successor_is_derived_under_the_server_key() -> None:
    token = handles.new_refresh_token()
    successor = handles.successor(KEY, token)
    assert successor == handles.successor(KEY, token)  # a replay gets the same one
    assert handles.parse(successor) is not None and successor != token
    assert successor != handles.successor(handles.successor_key(b"j" * 32), token)
    assert handles.successor(KEY, handles.new_refresh_token()) != successor


async def test_a_generic_jwt_library_cannot_take_a_refresh_token(
    settings: Settings, database: Database
) -> None:
    async with logged_in(settings, database) as session:
        client, runtime = session.client, session.runtime
        tokens = session.tokens
        jwks = (await client.get("/.well-known/jwks.json")).json()
        issuer = runtime.settings.url
        # The access token is a JWT PyJWT verifies; the refresh token is not one at all.
        kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
        key = jwt.PyJWK(next(jwk for jwk in jwks["keys"] if jwk["kid"] == kid))
        access = jwt.decode(
            tokens["access_token"],
            key.key,
            algorithms=[key.algorithm_name],
            issuer=issuer,
            options={"verify_aud": False},
        )
        assert access["client_id"] == "web"
        for jwk in jwks["keys"]:
            key = jwt.PyJWK(jwk)
            with pytest.raises(jwt.exceptions.DecodeError):
                jwt.decode(
                    tokens["refresh_token"],
                    key.key,
                    algorithms=[key.algorithm_name],
                    audience=issuer,
                    issuer=issuer,
                )
        # Stored by digest only: the token itself is nowhere in the table.
        stored, _ = await stored_refresh_token(database, tokens["refresh_token"])
        assert stored.jti == hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()
        assert tokens["refresh_token"] not in {stored.jti, stored.successor_jti}


async def test_grace_replay_returns_the_derived_successor_which_is_never_stored(
    database_url: str, tmp_path: Path, database: Database
) -> None:
    clock = MovableClock()
    grace = make_settings(database_url, tmp_path / "keys", ISSUER_REFRESH_GRACE_SECONDS=30)
    async with logged_in(grace, database, clock) as session:
        client, secret = session.client, session.secret
        first = session.tokens["refresh_token"]
        a = (await refresh(client, secret, first)).json()["refresh_token"]
        clock.advance(5)
        b = (await refresh(client, secret, first)).json()["refresh_token"]
        assert a == b
        consumed, _ = await stored_refresh_token(database, first)
        successor, _ = await stored_refresh_token(database, a)
        assert consumed.successor_jti == successor.jti == handles.parse(a)
        assert a not in {consumed.jti, consumed.successor_jti, successor.jti}


async def test_tampered_unknown_and_jws_tokens_are_invalid_grant_and_change_nothing(
    settings: Settings, database: Database
) -> None:
    async with logged_in(settings, database) as session:
        client, secret = session.client, session.secret
        tokens = session.tokens
        token = tokens["refresh_token"]
        tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
        for bad in (tampered, handles.new_refresh_token(), tokens["access_token"], "rt_x"):
            response = await refresh(client, secret, bad)
            assert response.status_code == 400, bad
            assert response.json()["error"] == "invalid_grant"
        # The real token still works: nothing was revoked on the way.
        assert (await refresh(client, secret, token)).status_code == 200


async def test_reuse_revokes_the_family_and_revocation_ends_it(
    database_url: str, tmp_path: Path, database: Database
) -> None:
    no_grace = make_settings(database_url, tmp_path / "keys", ISSUER_REFRESH_GRACE_SECONDS=0)
    async with logged_in(no_grace, database) as session:
        client, secret = session.client, session.secret
        first = session.tokens["refresh_token"]
        second = (await refresh(client, secret, first)).json()["refresh_token"]
        assert (await refresh(client, secret, first)).status_code == 400
        _, family = await stored_refresh_token(database, second)
        assert family.revoked_reason == "reuse"
        # RFC 7009: revoking a refresh token ends its family.
        third = (await login(client, secret)).json()["refresh_token"]
        revoked = await post_form(client, "/oauth/revoke", {"token": third}, auth=("web", secret))
        assert revoked.status_code == 200
        _, family = await stored_refresh_token(database, third)
        assert family.revoked_reason == "revoked"
        assert (await refresh(client, secret, third)).status_code == 400


async def test_introspection_of_a_live_refresh_token(
    settings: Settings, database: Database
) -> None:
    async with logged_in(settings, database) as session:
        client, runtime, secret = session.client, session.runtime, session.secret
        tokens = session.tokens
        user_id = session.user_id
        response = await post_form(
            client, "/oauth/introspect", {"token": tokens["refresh_token"]}, auth=("web", secret)
        )
        body = response.json()
        stored, family = await stored_refresh_token(database, tokens["refresh_token"])
        assert body["active"] is True and body["token_type"] == "refresh_token"
        assert (body["sub"], body["client_id"], body["sid"]) == (user_id, "web", family.id)
        assert body["exp"] == int(stored.expires_at.timestamp())
        assert body["scope"] == stored.scope
        async with database.session() as transaction:
            await families.revoke(transaction, family.id, reason="test", now=runtime.clock())
        response = await post_form(
            client, "/oauth/introspect", {"token": tokens["refresh_token"]}, auth=("web", secret)
        )
        assert response.json() == {"active": False}
