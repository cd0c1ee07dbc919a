"""Clients over the admin API: disjoint from user ids, and their lifecycle (issue 11)."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]


# ---- client ids never collide with user ids (RFC 9700 §4.15) -----------------------------


async def test_a_client_cannot_take_a_users_id(
    client: Client, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        "/admin/users",
        json={"email": "ada@example.com", "password": "correct horse"},
        headers=admin_headers,
    )
    user_id = created.json()["id"]
    assert user_id.startswith("u-")
    response = await client.post(
        "/admin/clients",
        json={"client_id": user_id, "grant_types": ["client_credentials"]},
        headers=admin_headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "client_id", ["u-anything", "U-1", str(uuid.uuid4()), uuid.uuid4().hex.upper()]
)
async def test_client_ids_shaped_like_user_ids_are_refused(
    client: Client, admin_headers: dict[str, str], client_id: str
) -> None:
    response = await client.post(
        "/admin/clients", json={"client_id": client_id}, headers=admin_headers
    )
    assert response.status_code == 400, response.text
    assert "user ids" in response.json()["error_description"]


# ---- nothing of the admin API is cached (issue 11 item 11) -------------------------------


async def test_every_admin_answer_is_no_store(
    client: Client, admin_headers: dict[str, str]
) -> None:
    created = await client.post("/admin/clients", json={"client_id": "svc"}, headers=admin_headers)
    assert created.status_code == 201 and created.json()["client_secret"]
    answers = [
        created,
        await client.get("/admin/clients", headers=admin_headers),
        await client.get("/admin/users", headers=admin_headers),
        await client.get("/admin/keys", headers=admin_headers),
        await client.get("/admin/audit", headers=admin_headers),
        await client.post("/admin/users/nobody/enable", headers=admin_headers),  # 404
        await client.get("/admin/users"),  # 401
    ]
    for answer in answers:
        assert answer.headers.get("cache-control") == "no-store", answer.request.url
