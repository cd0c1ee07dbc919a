"""Bad input to the admin API is a 400 in its error shape, refused before the database
(issue 11 item 6): NUL characters, which Postgres text cannot hold, and integers beyond
the database's columns. Before, both answered 500 on Postgres."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]

NUL_PATHS = [
    ("POST", "/admin/users/a%00b/disable"),
    ("POST", "/admin/users/%00/enable"),
    ("POST", "/admin/users/%00/revoke-sessions"),
    ("POST", "/admin/keys/k%00/revoke"),
    ("GET", "/admin/audit?action=user%00"),
    ("GET", "/admin/users?limit=1&x=%00"),
]


@pytest.mark.parametrize(("method", "path"), NUL_PATHS)
async def test_nul_in_a_path_or_query_parameter_is_400(
    client: Client,
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.request(method, path, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/users", {"email": "a\0@example.com", "password": "password1"}),
        ("/admin/users", {"email": "a@exa\0mple.com", "password": "password1"}),
        ("/admin/users", {"email": "a@example.com", "password": "pass\0word1"}),
        ("/admin/users", {"email": "a@example.com", "password": "password1", "roles": ["a\0"]}),
        ("/admin/clients", {"client_id": "sv\0c"}),
        ("/admin/clients", {"client_id": "svc\n"}),
        ("/admin/clients", {"client_id": "svc", "scopes": ["read\0"]}),
        ("/admin/clients", {"client_id": "svc", "audiences": ["urn:a\0"]}),
        ("/admin/clients", {"client_id": "svc", "access_token_ttl": 2**31}),
        ("/admin/clients", {"client_id": "svc", "refresh_token_ttl": 2**63}),
        ("/admin/clients", {"client_id": "svc", "access_token_ttl": -1}),
    ],
)
async def test_nul_or_an_out_of_range_integer_in_a_body_is_400(
    client: Client,
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: dict[str, Any],
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.post(path, json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "query", ["offset=9223372036854775808", "offset=99999999999999999999", "limit=-1", "limit=0"]
)
async def test_paging_beyond_the_database_range_is_400(
    client: Client, admin_headers: dict[str, str], query: str
) -> None:
    for resource in ("users", "clients"):
        response = await client.get(f"/admin/{resource}?{query}", headers=admin_headers)
        assert response.status_code == 400, (resource, query, response.text)
        assert response.json()["error"] == "invalid_request"


async def test_the_largest_allowed_values_still_work(
    client: Client, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        "/admin/clients",
        json={"client_id": "svc", "access_token_ttl": 2**31 - 1, "refresh_token_ttl": 2**31 - 1},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    # The offset's bound is the largest integer a JSON number (the OpenAPI document's
    # `maximum`) carries exactly; one past it is refused.
    page = await client.get(f"/admin/users?offset={2**53 - 1}", headers=admin_headers)
    assert page.status_code == 200 and page.json() == []
    past = await client.get(f"/admin/users?offset={2**53}", headers=admin_headers)
    assert past.status_code == 400
