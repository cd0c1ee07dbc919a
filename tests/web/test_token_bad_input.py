"""Malformed requests to the protocol endpoints get RFC-shaped JSON errors, never a 500."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import FORM, add_client, basic

Client = AsyncTestClient[Litestar]
ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]


MALFORMED: list[tuple[str | None, bytes]] = [
    ("application/json", b'{"grant_type": "client_credentials"}'),
    ("text/plain", b"grant_type=client_credentials"),
    (None, b"grant_type=client_credentials"),
    ("application/x-www-form-urlencoded", b"grant_type=\xff\xfe"),
    ("application/x-www-form-urlencoded", b"grant_type=%ff%fe"),
    ("application/x-www-form-urlencoded", b"grant_type"),
    ("application/x-www-form-urlencoded; charset=latin-1", b"grant_type=x"),
    ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 100)),
]


async def test_malformed_bodies_are_invalid_request(client: Client) -> None:
    for path in ENDPOINTS:
        for content_type, body in MALFORMED:
            headers = {"Content-Type": content_type} if content_type else {}
            response = await client.post(path, content=body, headers=headers)
            assert response.status_code == 400, (path, body, response.text)
            assert response.json()["error"] == "invalid_request"
            assert response.headers["cache-control"] == "no-store"


async def test_a_repeated_parameter_is_named(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime, "svc", grant_types=["client_credentials"])
    response = await client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&scope=read&scope=write",
        headers={**FORM, **basic("svc", secret)},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the parameter scope is included more than once",
    }


async def test_a_huge_body_is_a_json_413(client: Client) -> None:
    body = b"grant_type=" + b"a" * 100_000
    for path in ENDPOINTS:
        response = await client.post(path, content=body, headers=FORM)
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"


async def test_missing_grant_type_is_invalid_request(client: Client) -> None:
    response = await client.post("/oauth/token", content=b"", headers=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "grant_type" in response.json()["error_description"]


async def test_get_is_405(client: Client) -> None:
    for path in ENDPOINTS:
        response = await client.get(path)
        assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
        assert "POST" in response.headers["allow"].split(", ")
        assert response.headers["cache-control"] == "no-store"


async def test_userinfo_allows_get_and_post_only(client: Client) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/userinfo")
        assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
        assert response.headers["allow"] == "GET, POST"


GARBAGE = ["garbage", "a.b.c", "x" * 9000, "eyJhbGciOiJub25lIn0.e30.", "\u00e9\u00e9.\u00e9.\u00e9"]


async def test_garbage_refresh_tokens_are_invalid_grant(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime)
    for token in ["", *GARBAGE]:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers={**FORM, **basic("web", secret)},
        )
        assert response.status_code == 400
        assert response.json()["error"] == ("invalid_request" if token == "" else "invalid_grant")


async def test_garbage_tokens_at_revocation_and_introspection(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime)
    for token in GARBAGE:
        revoked = await client.post(
            "/oauth/revoke", data={"token": token}, headers={**FORM, **basic("web", secret)}
        )
        assert revoked.status_code == 200
        seen = await client.post(
            "/oauth/introspect", data={"token": token}, headers={**FORM, **basic("web", secret)}
        )
        assert seen.status_code == 200 and seen.json() == {"active": False}
    twice = await client.post(
        "/oauth/revoke", content=b"token=a&token=b", headers={**FORM, **basic("web", secret)}
    )
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"
