"""Issue 11.9: introspection tells a client only about tokens meant for it (RFC 7662 §4)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import API, add_client, add_user, login, post_form

Client = AsyncTestClient[Litestar]


async def inspect(client: Client, client_id: str, secret: str | None, token: str) -> Any:
    response = await post_form(
        client, "/oauth/introspect", {"token": token}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_access_tokens_are_shown_only_to_their_client_audience_or_a_gateway(
    client: Client, runtime: Runtime, database: Database, admin_headers: dict[str, str]
) -> None:
    await add_user(database, runtime)
    web = await add_client(database, runtime)  # audiences API and other.example.com
    tokens = (await login(client, web)).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    assert runtime.keys.ring.verify(access, typ="at+jwt")["aud"] == API
    stranger = await add_client(
        database, runtime, "stranger", grant_types=["client_credentials"], audiences=["urn:x"]
    )
    api = await add_client(database, runtime, "api", grant_types=["client_credentials"])
    created = await client.post(
        "/admin/clients",
        json={
            "client_id": "gateway",
            "grant_types": ["client_credentials"],
            "audiences": ["urn:gw"],
            "introspect_any": True,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["client"]["introspect_any"] is True
    gateway = created.json()["client_secret"]

    # Another service's client learns nothing, not even that the token exists.
    assert await inspect(client, "stranger", stranger, access) == {"active": False}
    # Its own client, a client serving its audience, and a gateway see it.
    assert (await inspect(client, "web", web, access))["sub"]
    assert (await inspect(client, "api", api, access))["active"] is True
    assert (await inspect(client, "gateway", gateway, access))["active"] is True
    # A refresh token is a secret of its own client: not even a gateway sees it.
    assert await inspect(client, "gateway", gateway, refresh) == {"active": False}
    assert await inspect(client, "api", api, refresh) == {"active": False}
    assert (await inspect(client, "web", web, refresh))["active"] is True


async def test_a_client_credentials_token_for_another_audience_is_inactive(
    client: Client, runtime: Runtime, database: Database
) -> None:
    svc = await add_client(
        database, runtime, "svc", grant_types=["client_credentials"], audiences=["urn:a"]
    )
    other = await add_client(
        database, runtime, "other", grant_types=["client_credentials"], audiences=["urn:b"]
    )
    data = {"grant_type": "client_credentials"}
    token = (await post_form(client, "/oauth/token", data, auth=("svc", svc))).json()
    assert await inspect(client, "other", other, token["access_token"]) == {"active": False}
    assert (await inspect(client, "svc", svc, token["access_token"]))["active"] is True
