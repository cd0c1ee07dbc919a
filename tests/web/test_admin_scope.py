"""The admin scope and the admin role over HTTP (issue 11 item 2).

`issuer:admin` opens the admin API only on a client's own token (client_credentials) of a
client still registered for it; a user is an admin only through the `admin` role, as the
database says now. A user-facing client can never be registered with that scope.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from issuer.accounts.secrets import generate_secret, secret_digest
from issuer.runtime import Runtime
from issuer.store import users
from issuer.store.database import Database
from issuer.store.models import Client as ClientRow
from tests.oauth.support import add_client, add_user, login, post_form, refresh
from tests.web.conftest import MintToken

Client = AsyncTestClient[Litestar]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def legacy_client(
    database: Database,
    runtime: Runtime,
    client_id: str,
    *,
    grant_types: list[str],
    scopes: list[str],
) -> str:
    """A client row as an older issuer let anyone register it (no validation)."""
    secret = generate_secret()
    async with database.session() as session:
        session.add(
            ClientRow(
                client_id=client_id,
                secret_digest=secret_digest(secret),
                grant_types=grant_types,
                scopes=scopes,
                audiences=[runtime.settings.url],
                created_at=runtime.clock(),
            )
        )
    return secret


async def test_a_users_login_never_gets_the_admin_scope(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime, roles=("staff",))
    secret = await legacy_client(
        database,
        runtime,
        "web",
        grant_types=["password", "refresh_token"],
        scopes=["read", "issuer:admin"],
    )
    response = await login(client, secret)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read"
    access = response.json()["access_token"]
    assert (await client.get("/admin/users", headers=bearer(access))).status_code == 403

    # Asked for explicitly, at login or at refresh: invalid_scope.
    asked = await login(client, secret, scope="read issuer:admin")
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope", asked.text
    refreshed = await refresh(
        client, secret, response.json()["refresh_token"], scope="issuer:admin"
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_scope"


async def test_a_client_credentials_token_with_the_admin_scope_opens_the_api(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await legacy_client(
        database, runtime, "ops-robot", grant_types=["client_credentials"], scopes=["issuer:admin"]
    )
    issued = await post_form(
        client, "/oauth/token", {"grant_type": "client_credentials"}, auth=("ops-robot", secret)
    )
    assert issued.status_code == 200, issued.text
    headers = bearer(issued.json()["access_token"])
    assert (await client.get("/admin/users", headers=headers)).status_code == 200

    # The client no longer registered for the scope: its token no longer opens the API.
    async with database.session() as session:
        await session.execute(
            update(ClientRow).where(ClientRow.client_id == "ops-robot").values(scopes=[])
        )
    assert (await client.get("/admin/users", headers=headers)).status_code == 403


async def test_the_admin_scope_on_a_users_token_is_not_enough(
    client: Client,
    runtime: Runtime,
    database: Database,
    mint_token: MintToken,
    admin_accounts: None,
) -> None:
    user_id = await add_user(database, runtime, roles=("staff",))
    # Signed by the issuer, client registered for the scope, but the token speaks for a user.
    token = mint_token(sub=user_id, scope="issuer:admin", roles=["staff"])
    response = await client.get("/admin/users", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    # Nor with a sid (a login's token) whose sub happens to be the client's id.
    token = mint_token(sub="admin-cli", scope="issuer:admin", sid="some-family")
    assert (await client.get("/admin/users", headers=bearer(token))).status_code in (401, 403)


async def test_the_admin_role_counts_only_while_the_database_says_so(
    client: Client,
    runtime: Runtime,
    database: Database,
    mint_token: MintToken,
    admin_accounts: None,
) -> None:
    user_id = await add_user(database, runtime, roles=("admin",))
    headers = bearer(mint_token(sub=user_id, roles=["admin"]))
    assert (await client.get("/admin/users", headers=headers)).status_code == 200
    # A role claimed by the token but not held in the database does not count.
    stranger = await add_user(database, runtime, "eve@example.com", roles=("staff",))
    forged_role = bearer(mint_token(sub=stranger, roles=["admin"]))
    assert (await client.get("/admin/users", headers=forged_role)).status_code == 403
    # Disabled: the same token stops working.
    async with database.session() as session:
        await users.set_disabled(session, user_id, True)
    assert (await client.get("/admin/users", headers=headers)).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "web", "grant_types": ["password"], "scopes": ["issuer:admin"]},
        {"client_id": "web", "grant_types": ["refresh_token"], "scopes": ["issuer:admin"]},
        {"client_id": "spa", "public": True, "scopes": ["issuer:admin"]},
        {
            "client_id": "mix",
            "grant_types": ["client_credentials", "password"],
            "scopes": ["read", "issuer:admin"],
        },
    ],
)
async def test_a_user_facing_client_cannot_be_registered_with_the_admin_scope(
    client: Client, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post("/admin/clients", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert "issuer:admin" in response.json()["error_description"]


async def test_a_client_credentials_client_may_be_registered_with_the_admin_scope(
    client: Client, runtime: Runtime, database: Database, admin_headers: dict[str, str]
) -> None:
    body = {"client_id": "ops", "grant_types": ["client_credentials"], "scopes": ["issuer:admin"]}
    response = await client.post("/admin/clients", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert await add_client(database, runtime, "web") is not None  # an ordinary one still works
