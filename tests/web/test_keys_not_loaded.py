"""Until the key ring is loaded (the database was down at start), every route that needs it
answers 503 temporarily_unavailable with Retry-After: the protocol endpoints, the JWKS fast
path, discovery and the admin API alike, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from issuer.app import create_app
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store.database import Database
from tests.oauth.support import FORM, add_client, basic

BEARER = {"Authorization": "Bearer x.y.z"}


@pytest.fixture
async def unstarted(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """The app of a process whose start could not load the ring: its lifespan has not run."""
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=settings.url) as http:
            yield http, runtime
    finally:
        await runtime.close()


async def test_every_route_that_needs_the_keys_is_503_until_they_load(
    unstarted: tuple[httpx.AsyncClient, Runtime], database: Database
) -> None:
    http, runtime = unstarted
    secret = await add_client(database, runtime, "svc", grant_types=["client_credentials"])
    requests = {
        "admin": http.get("/admin/keys", headers=BEARER),
        "userinfo": http.get("/userinfo", headers=BEARER),
        "token": http.post(
            "/oauth/token",
            content=b"grant_type=client_credentials",
            headers={**FORM, **basic("svc", secret)},
        ),
        "jwks": http.get("/.well-known/jwks.json"),
        "discovery": http.get("/.well-known/openid-configuration"),
    }
    for name, request in requests.items():
        response = await request
        assert response.status_code == 503, (name, response.text)
        assert response.json() == {
            "error": "temporarily_unavailable",
            "error_description": "the signing keys are not loaded yet",
        }, name
        assert response.headers["retry-after"] == "5", name
        assert response.headers["cache-control"] == "no-store", name

    await runtime.keys.start()  # what the background poll does once the database answers
    assert (await http.get("/.well-known/jwks.json")).status_code == 200
    assert (await http.get("/.well-known/openid-configuration")).status_code == 200
    token = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials",
        headers={**FORM, **basic("svc", secret)},
    )
    assert token.status_code == 200, token.text
