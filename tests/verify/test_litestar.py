"""The Litestar integration, through the example service (RFC 6750 §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from examples.resource_service.app import create_app
from issuer.verify import Verifier

from .issuer_double import Clock, IssuerHandle

Client: TypeAlias = "AsyncTestClient[Litestar]"


@pytest.fixture
async def client(issuer: IssuerHandle, clock: Clock) -> AsyncIterator[Client]:
    verifier = Verifier(
        issuer.issuer_url, issuer.audience, clock=clock, async_http_client=issuer.async_client()
    )
    async with AsyncTestClient(app=create_app(verifier)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_public_route_is_anonymous_without_a_header(client: Client) -> None:
    response = await client.get("/public")
    assert response.status_code == 200
    assert response.json() == {"hello": "anonymous"}


async def test_public_route_greets_a_valid_token(client: Client, issuer: IssuerHandle) -> None:
    response = await client.get("/public", headers=bearer(issuer.mint()))
    assert response.json() == {"hello": "user-42"}


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_bad_header_on_optional_route_is_401_never_anonymous(
    client: Client, header: str
) -> None:
    response = await client.get("/public", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_required_route_without_token_is_401_with_bare_challenge(client: Client) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_required_route_hands_claims_to_the_handler(
    client: Client, issuer: IssuerHandle
) -> None:
    response = await client.get("/me", headers=bearer(issuer.mint("EdDSA")))
    assert response.status_code == 200
    assert response.json() == {
        "sub": "user-42",
        "client_id": "web-app",
        "scope": ["orders:read", "profile"],
        "roles": ["customer"],
    }


async def test_expired_token_is_401_invalid_token(
    client: Client, issuer: IssuerHandle, clock: Clock
) -> None:
    response = await client.get("/me", headers=bearer(issuer.mint(exp=int(clock()) - 60)))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge == 'Bearer error="invalid_token", error_description="expired"'


async def test_refresh_token_is_refused(client: Client, issuer: IssuerHandle) -> None:
    token = issuer.mint(typ="rt+jwt", aud=issuer.issuer_url)
    assert (await client.get("/me", headers=bearer(token))).status_code == 401


async def test_scope_guard(client: Client, issuer: IssuerHandle) -> None:
    ok = await client.get("/orders", headers=bearer(issuer.mint()))
    assert ok.status_code == 200
    denied = await client.get("/orders", headers=bearer(issuer.mint(scope="profile")))
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders:read"'
    )
    assert "orders:read" in denied.json()["detail"]


async def test_scope_guard_without_token_is_401(client: Client) -> None:
    assert (await client.get("/orders")).status_code == 401


async def test_role_guard(client: Client, issuer: IssuerHandle) -> None:
    admin = await client.get("/admin/stats", headers=bearer(issuer.mint(roles=["admin"])))
    assert admin.status_code == 200
    customer = await client.get("/admin/stats", headers=bearer(issuer.mint()))
    assert customer.status_code == 403
    service = issuer.mint(sub="svc", client_id="svc", roles=None)
    assert (await client.get("/admin/stats", headers=bearer(service))).status_code == 403
    assert (await client.get("/admin/stats")).status_code == 401


async def test_bad_token_on_guarded_route_is_401_not_403(client: Client) -> None:
    response = await client.get("/admin/stats", headers=bearer("x.y.z"))
    assert response.status_code == 401


async def test_issuer_down_on_cold_start_is_503_not_401(
    client: Client, issuer: IssuerHandle
) -> None:
    issuer.double.down = True
    response = await client.get("/me", headers=bearer(issuer.mint()))
    assert response.status_code == 503


async def test_verified_once_per_request_and_jwks_fetched_once(
    client: Client, issuer: IssuerHandle
) -> None:
    for _ in range(20):
        response = await client.get("/orders", headers=bearer(issuer.mint()))
        assert response.status_code == 200
    assert issuer.double.jwks_requests == 1
