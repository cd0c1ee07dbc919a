"""Discovery (RFC 8414, OpenID Discovery 1.0), and an issuer URL with a path prefix."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.app import create_app
from issuer.verify import Verifier
from tests.conftest import make_settings

ISSUER = "http://127.0.0.1:8000"


async def test_discovery_documents_name_the_endpoints_and_signing_algs(
    client: AsyncTestClient[Litestar],
) -> None:
    oidc = await client.get("/.well-known/openid-configuration")
    oauth = await client.get("/.well-known/oauth-authorization-server")
    assert oidc.status_code == oauth.status_code == 200
    assert oidc.content == oauth.content
    assert oidc.headers["content-type"].startswith("application/json")
    assert oidc.headers["cache-control"] == "public, max-age=300"
    document = json.loads(oidc.content)
    assert document["issuer"] == ISSUER
    assert document["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert document["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert document["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert document["introspection_endpoint"] == f"{ISSUER}/oauth/introspect"
    assert document["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert document["grant_types_supported"] == [
        "authorization_code",
        "password",
        "refresh_token",
        "client_credentials",
    ]
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert "none" not in document["introspection_endpoint_auth_methods_supported"]
    assert document["access_token_signing_alg_values_supported"] == ["EdDSA", "RS256"]


async def test_discovery_names_everything_an_oidc_client_configures_itself_with(
    client: AsyncTestClient[Litestar],
) -> None:
    """What openid-client's discovery and Authlib's server_metadata_url read (issue 12)."""
    document = (await client.get("/.well-known/openid-configuration")).json()
    assert document["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert document["end_session_endpoint"] == f"{ISSUER}/oauth/logout"
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["EdDSA", "RS256"]
    assert document["subject_types_supported"] == ["public"]
    assert document["scopes_supported"] == ["openid", "profile", "email", "offline_access"]
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid"} <= set(
        document["claims_supported"]
    )
    assert {"email", "email_verified"} <= set(document["claims_supported"])
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["prompt_values_supported"] == ["consent", "login", "none", "select_account"]
    assert document["request_uri_parameter_supported"] is False
    assert document["request_parameter_supported"] is False


async def test_discovery_lists_the_algs_really_configured(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_EDDSA_JWS_ALG="Ed25519")
    async with AsyncTestClient(app=create_app(settings)) as client:
        document = (await client.get("/.well-known/openid-configuration")).json()
    assert document["access_token_signing_alg_values_supported"] == ["Ed25519", "RS256"]


@pytest.fixture
def tenant_app(database_url: str, tmp_path: Path) -> Litestar:
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_URL=f"{ISSUER}/tenant-a/")
    return create_app(settings)


async def test_an_issuer_url_with_a_path_serves_the_protocol_under_it(
    tenant_app: Litestar,
) -> None:
    async with AsyncTestClient(app=tenant_app, base_url=ISSUER) as client:
        oidc = await client.get("/tenant-a/.well-known/openid-configuration")
        document = oidc.json()
        assert document["issuer"] == f"{ISSUER}/tenant-a"
        assert document["jwks_uri"] == f"{ISSUER}/tenant-a/.well-known/jwks.json"
        assert document["token_endpoint"] == f"{ISSUER}/tenant-a/oauth/token"
        # RFC 8414 §3: the well-known segment goes between the host and the path …
        inserted = await client.get("/.well-known/oauth-authorization-server/tenant-a")
        assert inserted.status_code == 200 and inserted.content == oidc.content
        # … and the path-appended form is served as well.
        appended = await client.get("/tenant-a/.well-known/oauth-authorization-server")
        assert appended.content == oidc.content
        assert (await client.get("/tenant-a/.well-known/jwks.json")).status_code == 200
        assert (await client.get("/.well-known/jwks.json")).status_code == 404
        assert (await client.get("/.well-known/openid-configuration")).status_code == 404
        # Probes are per process and stay at the root.
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/tenant-a/healthz")).status_code == 404


async def test_a_verifier_finds_the_keys_of_a_prefixed_issuer(tenant_app: Litestar) -> None:
    async with AsyncTestClient(app=tenant_app, base_url=ISSUER) as client:
        runtime = tenant_app.state.runtime
        token = runtime.keys.ring.sign(
            {
                "iss": f"{ISSUER}/tenant-a",
                "sub": "svc",
                "aud": "orders",
                "client_id": "svc",
                "iat": 1_700_000_000,
                "exp": 4_000_000_000,
                "jti": "1",
            },
            typ="at+jwt",
            alg="RS256",
        )
        transport = httpx.ASGITransport(app=tenant_app)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
            verifier = Verifier(f"{ISSUER}/tenant-a", "orders", async_http_client=http)
            claims = await verifier.averify(token)
        assert claims.sub == "svc" and client is not None
