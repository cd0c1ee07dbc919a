"""Issue 11.12: every response says nosniff and refuses framing; HSTS when ISSUER_URL is https.

Every kind of response is covered: bare-ASGI protocol answers (JSON and empty 200s), the
JWKS fast path (200, 304, and the routed 405/HEAD), Litestar routes, the OpenAPI document,
and every error handler (OAuth errors, routing 404/405, validation).
"""

from __future__ import annotations

from pathlib import Path

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.settings import Settings
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import add_client, post_form, serving

Client = AsyncTestClient[Litestar]
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}
HSTS = "max-age=31536000"


async def every_kind_of_response(client: Client, secret: str | None) -> list[httpx.Response]:
    etag = (await client.get("/.well-known/jwks.json")).headers["etag"]
    cc = {"grant_type": "client_credentials"}
    token = (await post_form(client, "/oauth/token", cc, auth=("svc", secret))).json()
    access = {"Authorization": f"Bearer {token['access_token']}"}
    return [
        await post_form(client, "/oauth/token", cc, auth=("svc", secret)),  # protocol 200
        await post_form(client, "/oauth/introspect", {"token": "x"}, auth=("svc", secret)),
        await post_form(client, "/oauth/revoke", {"token": "x"}, auth=("svc", secret)),  # empty
        await post_form(client, "/oauth/token", cc, auth=("svc", "wrong")),  # protocol 401
        await client.get("/oauth/token"),  # protocol 405
        await client.get("/userinfo"),  # 401, no credentials
        await client.get("/userinfo", headers=access),  # 401, a client's token
        await client.get("/.well-known/jwks.json"),  # fast path 200
        await client.get("/.well-known/jwks.json", headers={"If-None-Match": etag}),  # 304
        await client.head("/.well-known/jwks.json"),  # routed
        await client.post("/.well-known/jwks.json"),  # 405
        await client.get("/.well-known/openid-configuration"),  # Litestar route
        await client.get("/healthz"),
        await client.get("/metrics"),
        await client.get("/admin/keys"),  # guard 401
        await client.get("/nowhere"),  # routing 404
        await client.get("/schema"),
        await client.get("/schema/swagger"),  # the OpenAPI plugin's own 404 page
    ]


async def test_every_response_carries_the_security_headers(
    client: Client, settings: Settings, database_url: str
) -> None:
    database = Database(database_url)
    try:
        runtime = client.app.state.runtime
        secret = await add_client(database, runtime, "svc", grant_types=["client_credentials"])
    finally:
        await database.dispose()
    responses = await every_kind_of_response(client, secret)
    assert {r.status_code for r in responses} >= {200, 304, 401, 404, 405}
    for response in responses:
        where = f"{response.request.method} {response.request.url.path} {response.status_code}"
        for name, value in SECURITY.items():
            assert response.headers.get(name) == value, where
        # ISSUER_URL is http here: no HSTS (RFC 6797 §7.2: ignored over http anyway).
        assert "strict-transport-security" not in response.headers, where


async def test_hsts_when_the_issuer_url_is_https(settings: Settings, tmp_path: Path) -> None:
    secure = make_settings(
        settings.database_url, tmp_path / "keys", ISSUER_URL="https://id.example.com"
    )
    async with serving(secure) as (client, runtime):
        database = Database(secure.database_url)
        try:
            secret = await add_client(database, runtime, "svc", grant_types=["client_credentials"])
        finally:
            await database.dispose()
        for response in await every_kind_of_response(client, secret):
            where = f"{response.request.method} {response.request.url.path}"
            assert response.headers.get("strict-transport-security") == HSTS, where
            assert response.headers.get("x-content-type-options") == "nosniff", where
