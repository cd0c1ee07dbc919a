"""Users over HTTP: the password policy, the last admin, a disabled account's login
(issue 11 item 12)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import PASSWORD, add_client, add_user, login

Client = AsyncTestClient[Litestar]


# ---- password policy (NIST SP 800-63B §5.1.1.2) ------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [("x", "at least 8 characters"), ("1234567", "at least 8 characters"), ("é" * 1025, "1024")],
)
async def test_a_password_outside_the_policy_is_400_with_the_reason(
    client: Client, admin_headers: dict[str, str], password: str, message: str
) -> None:
    response = await client.post(
        "/admin/users", json={"email": "a@example.com", "password": password}, headers=admin_headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert message in response.json()["error_description"]


@pytest.mark.parametrize("password", ["12345678", "aaaaaaaa", "ß" * 64, "long " * 200])
async def test_any_password_of_8_to_1024_characters_is_accepted(
    client: Client, admin_headers: dict[str, str], password: str
) -> None:
    response = await client.post(
        "/admin/users", json={"email": "a@example.com", "password": password}, headers=admin_headers
    )
    assert response.status_code == 201, response.text


# ---- the last admin ----------------------------------------------------------------------


async def test_the_last_enabled_admin_cannot_be_disabled(
    client: Client, admin_headers: dict[str, str]
) -> None:
    # `admin_headers` acts as `admin-user`, the only admin so far.
    refused = await client.post("/admin/users/admin-user/disable", headers=admin_headers)
    assert refused.status_code == 409, refused.text
    assert "last enabled user with the admin role" in refused.json()["error_description"]

    created = await client.post(
        "/admin/users",
        json={"email": "bob@example.com", "password": "password1", "roles": ["admin"]},
        headers=admin_headers,
    )
    bob = created.json()["id"]
    assert (await client.post(f"/admin/users/{bob}/disable", headers=admin_headers)).is_success
    # Bob disabled: admin-user is the last again.
    again = await client.post("/admin/users/admin-user/disable", headers=admin_headers)
    assert again.status_code == 409
    # A user without the role is disabled as before.
    created = await client.post(
        "/admin/users",
        json={"email": "carol@example.com", "password": "password1"},
        headers=admin_headers,
    )
    carol = created.json()["id"]
    assert (await client.post(f"/admin/users/{carol}/disable", headers=admin_headers)).is_success


# ---- a disabled account says nothing about its password ----------------------------------


async def test_a_disabled_accounts_error_is_that_of_a_wrong_password(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime, disabled=True)
    secret = await add_client(database, runtime)
    right = await login(client, secret, password=PASSWORD)
    wrong = await login(client, secret, password="not the password")
    assert right.status_code == wrong.status_code == 400
    assert (
        right.json()
        == wrong.json()
        == {
            "error": "invalid_grant",
            "error_description": "invalid username or password",
        }
    )
