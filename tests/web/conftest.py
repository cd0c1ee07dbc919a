"""Web-test fixtures: the app's runtime and access tokens minted with its own key ring.

`mint_token` signs exactly what the token endpoint issues (RFC 9068: typ at+jwt, iss, sub,
aud, exp, iat, nbf, jti, client_id, scope, roles), so tests of protected endpoints do not
depend on a grant.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store.database import Database
from issuer.store.models import Client, User

MintToken = Callable[..., str]


@pytest.fixture
def runtime(app: Litestar, client: AsyncTestClient[Litestar]) -> Runtime:
    """The started app's Runtime (the `client` fixture ran its lifespan)."""
    started: Runtime = app.state.runtime
    return started


def sign_access_token(
    runtime: Runtime,
    *,
    sub: str = "admin-user",
    roles: list[str] | None = None,
    scope: str = "",
    typ: str = "at+jwt",
    ttl: int = 300,
    **claims: Any,
) -> str:
    """A token signed with the runtime's key ring, as the token endpoint would issue it."""
    now = int(runtime.clock().timestamp())
    payload: dict[str, Any] = {
        "iss": runtime.settings.url,
        "sub": sub,
        "aud": runtime.settings.url,
        "exp": now + ttl,
        "iat": now,
        "nbf": now,
        "jti": secrets.token_urlsafe(16),
        "client_id": "admin-cli",
        "scope": scope,
    }
    if roles is not None:
        payload["roles"] = roles
    payload.update(claims)
    return runtime.keys.ring.sign(payload, typ=typ, alg=runtime.settings.default_alg)


def mint_admin(runtime: Runtime) -> str:
    """A token of the user `admin-user` with role admin (see `admin_rows`)."""
    return sign_access_token(runtime, roles=["admin"])


@pytest.fixture
def mint_token(runtime: Runtime) -> MintToken:
    """`mint_token(sub=…, roles=[…], scope="…", typ="at+jwt", **claims)` → a signed token."""

    def mint(**claims: Any) -> str:
        return sign_access_token(runtime, **claims)

    return mint


async def admin_rows(database: Database, runtime: Runtime) -> None:
    """What `mint_token`'s defaults name, as the admin guard checks them in the database:
    the user `admin-user` with role admin, and the client `admin-cli` (client_credentials,
    registered for scope issuer:admin)."""
    now = runtime.clock()
    async with database.session() as session:
        session.add(
            User(
                id="admin-user",
                email="admin-user@example.com",
                password_hash="-",
                roles=["admin"],
                disabled=False,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Client(
                client_id="admin-cli",
                grant_types=["client_credentials"],
                scopes=["issuer:admin"],
                audiences=[runtime.settings.url],
                created_at=now,
            )
        )


@pytest.fixture
async def admin_accounts(runtime: Runtime, database: Database) -> None:
    await admin_rows(database, runtime)


@pytest.fixture
def admin_headers(mint_token: MintToken, admin_accounts: None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(roles=['admin'])}"}
