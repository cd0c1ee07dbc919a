"""client_credentials and client authentication over HTTP."""

from __future__ import annotations

import base64

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.accounts import secrets as client_secrets
from issuer.metrics import TOKENS_ISSUED
from issuer.oauth import client_auth
from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import API, FORM, add_client, basic, post_form

Client = AsyncTestClient[Litestar]
CC = {"grant_type": "client_credentials"}


async def service(database: Database, runtime: Runtime, **kw: object) -> str:
    secret = await add_client(
        database,
        runtime,
        "svc",
        grant_types=["client_credentials"],
        **kw,  # type: ignore[arg-type]
    )
    assert secret is not None
    return secret


async def test_client_credentials_token_is_for_the_client_itself(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await service(database, runtime)
    before = TOKENS_ISSUED.labels(grant_type="client_credentials")._value.get()
    response = await post_form(client, "/oauth/token", CC, auth=("svc", secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    claims = runtime.keys.ring.verify(body["access_token"], typ="at+jwt")
    assert claims["sub"] == "svc" == claims["client_id"]
    assert claims["aud"] == API and "roles" not in claims and "sid" not in claims
    assert set(claims) == {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope"}
    assert TOKENS_ISSUED.labels(grant_type="client_credentials")._value.get() == before + 1


async def test_client_secret_post_works(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await service(database, runtime)
    data = {**CC, "client_id": "svc", "client_secret": secret, "scope": "read"}
    response = await post_form(client, "/oauth/token", data)
    assert response.status_code == 200 and response.json()["scope"] == "read"


async def test_basic_credentials_are_form_urlencoded(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime, "ns:svc", grant_types=["client_credentials"])
    # RFC 6749 §2.3.1: "ns:svc" travels as "a%3Ab%2Bc" inside Basic.
    response = await post_form(client, "/oauth/token", CC, auth=("ns:svc", secret))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("audience", "status", "expected"),
    [
        ({}, 200, API),
        ({"audience": "https://other.example.com"}, 200, "https://other.example.com"),
        ({"resource": "https://other.example.com"}, 200, "https://other.example.com"),
        ({"audience": API, "resource": API}, 200, API),
        ({"audience": API, "resource": "https://other.example.com"}, 400, "invalid_target"),
        ({"audience": "https://evil.example.com"}, 400, "invalid_target"),
    ],
)
async def test_audience_rules(
    client: Client,
    runtime: Runtime,
    database: Database,
    audience: dict[str, str],
    status: int,
    expected: str,
) -> None:
    secret = await service(database, runtime)
    response = await post_form(client, "/oauth/token", {**CC, **audience}, auth=("svc", secret))
    assert response.status_code == status
    if status == 200:
        claims = runtime.keys.ring.verify(response.json()["access_token"], typ="at+jwt")
        assert claims["aud"] == expected
    else:
        assert response.json()["error"] == expected


async def test_two_resources_are_invalid_target(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await service(database, runtime)
    response = await client.post(
        "/oauth/token",
        content=f"grant_type=client_credentials&resource={API}&resource=https://x.example",
        headers={**FORM, **basic("svc", secret)},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"


async def test_scope_outside_the_client_is_invalid_scope(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await service(database, runtime)
    data = {**CC, "scope": "read admin"}
    response = await post_form(client, "/oauth/token", data, auth=("svc", secret))
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "credentials",
    [("svc", "wrong"), ("nobody", "whatever"), ("svc", "")],
)
async def test_bad_client_credentials_are_401_with_a_challenge(
    client: Client, runtime: Runtime, database: Database, credentials: tuple[str, str]
) -> None:
    await service(database, runtime)
    response = await post_form(client, "/oauth/token", CC, auth=credentials)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.headers["cache-control"] == "no-store"


async def test_no_client_authentication_is_401(client: Client) -> None:
    response = await post_form(client, "/oauth/token", CC)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "authorization", ["Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()]
)
async def test_malformed_authorization_is_401(client: Client, authorization: str) -> None:
    response = await post_form(client, "/oauth/token", CC, headers={"Authorization": authorization})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_two_authentication_methods_are_invalid_request(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await service(database, runtime)
    data = {**CC, "client_secret": secret}
    response = await post_form(client, "/oauth/token", data, auth=("svc", secret))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert "more than one" in response.json()["error_description"]


async def test_public_client_cannot_use_client_credentials_or_a_secret(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_client(database, runtime, "spa", grant_types=["refresh_token"], public=True)
    response = await post_form(client, "/oauth/token", {**CC, "client_id": "spa"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    with_secret = await post_form(client, "/oauth/token", CC, auth=("spa", "guess"))
    assert with_secret.status_code == 401


async def test_confidential_client_without_its_secret_is_401(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await service(database, runtime)
    response = await post_form(client, "/oauth/token", {**CC, "client_id": "svc"})
    assert response.status_code == 401


async def test_secrets_are_compared_in_constant_time(
    client: Client, runtime: Runtime, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = await service(database, runtime)
    calls: list[bool] = []
    real = client_secrets.secret_matches

    def spy(presented: str, digest: bytes | None) -> bool:
        result = real(presented, digest)
        calls.append(result)
        return result

    monkeypatch.setattr(client_auth, "secret_matches", spy)
    await post_form(client, "/oauth/token", CC, auth=("svc", secret))
    await post_form(client, "/oauth/token", CC, auth=("svc", "wrong"))
    await post_form(client, "/oauth/token", CC, auth=("nobody", "wrong"))
    # Every attempt, even for an unknown client, went through hmac.compare_digest: once with
    # the secret and once with the previous one of a rotation (none here), always both.
    assert calls == [True, False, False, False, False, False]


async def test_unsupported_grant_type(client: Client, runtime: Runtime, database: Database) -> None:
    secret = await service(database, runtime)
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}
    response = await post_form(client, "/oauth/token", data, auth=("svc", secret))
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
