"""The admin API over HTTP: authorisation, users, clients, the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store import clients, denylist
from issuer.store.database import Database
from issuer.store.models import Client as ClientRow
from tests.oauth.support import family_is_live, store_family, stored_family
from tests.web.conftest import MintToken

Client = AsyncTestClient[Litestar]

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def assert_no_private_material(value: Any) -> None:
    if isinstance(value, dict):
        assert not PRIVATE_JWK_MEMBERS & value.keys(), value
        assert "private_blob" not in value and "secret_digest" not in value
        for item in value.values():
            assert_no_private_material(item)
    elif isinstance(value, list):
        for item in value:
            assert_no_private_material(item)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_user(
    client: Client,
    headers: dict[str, str],
    email: str = "ada@example.com",
    roles: tuple[str, ...] = ("staff",),
) -> str:
    response = await client.post(
        "/admin/users",
        json={"email": email, "password": "password1", "roles": list(roles)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


async def start_family(
    database: Database, runtime: Runtime, user_id: str, client_id: str = "app"
) -> str:
    now = runtime.clock()
    family_id = str(uuid.uuid4())
    async with database.session() as session:
        if await clients.by_id(session, client_id) is None:
            await clients.add(session, ClientRow(client_id=client_id, created_at=now))
        await store_family(
            session,
            family_id=family_id,
            user_id=user_id,
            client_id=client_id,
            scope="",
            audience=runtime.settings.url,
            now=now,
            expires_at=now + timedelta(days=1),
        )
    return family_id


# ---- authorisation ---------------------------------------------------------------------


async def test_no_token_is_401_with_a_bearer_challenge(client: Client) -> None:
    response = await client.get("/admin/keys")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    # RFC 6750 §3.1: no credentials sent, so no error code in the challenge (issue 11.12).
    assert response.headers["www-authenticate"] == 'Bearer realm="issuer"'


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer a.b.c", "Basic YWRtaW46YWRtaW4=", "Bearer ", "Bearer " + "x" * 9000],
)
async def test_garbage_tokens_are_401(client: Client, authorization: str) -> None:
    response = await client.get("/admin/users", headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_expired_token_is_401(client: Client, mint_token: MintToken) -> None:
    token = mint_token(roles=["admin"], ttl=-60, iat=0, nbf=0)
    response = await client.get("/admin/keys", headers=bearer(token))
    assert response.status_code == 401


async def test_token_for_another_audience_is_401(client: Client, mint_token: MintToken) -> None:
    token = mint_token(roles=["admin"], aud="orders-api")
    response = await client.get("/admin/keys", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_token_from_another_issuer_is_401(client: Client, mint_token: MintToken) -> None:
    token = mint_token(roles=["admin"], iss="https://evil.example.com")
    assert (await client.get("/admin/keys", headers=bearer(token))).status_code == 401


async def test_refresh_typed_token_is_401(client: Client, mint_token: MintToken) -> None:
    token = mint_token(roles=["admin"], typ="rt+jwt")
    assert (await client.get("/admin/keys", headers=bearer(token))).status_code == 401


async def test_deny_listed_token_is_401(
    client: Client,
    runtime: Runtime,
    database: Database,
    mint_token: MintToken,
    admin_accounts: None,
) -> None:
    token = mint_token(roles=["admin"], jti="revoked-jti")
    assert (await client.get("/admin/keys", headers=bearer(token))).status_code == 200
    now = runtime.clock()
    async with database.session() as session:
        await denylist.add(session, "revoked-jti", until=now + timedelta(hours=1), now=now)
    response = await client.get("/admin/keys", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error_description"] == "the access token was revoked"


async def test_not_admin_is_403_insufficient_scope(
    client: Client, mint_token: MintToken, admin_accounts: None
) -> None:
    token = mint_token(roles=["staff"], scope="openid profile")
    response = await client.get("/admin/keys", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_admin_scope_on_a_clients_own_token_is_enough(
    client: Client, mint_token: MintToken, admin_accounts: None
) -> None:
    token = mint_token(sub="admin-cli", scope="issuer:admin")
    assert (await client.get("/admin/keys", headers=bearer(token))).status_code == 200


# ---- keys --------------------------------------------------------------------------------


async def test_keys_list_shows_lifecycle_and_no_private_material(
    client: Client, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/admin/keys", headers=admin_headers)
    assert response.status_code == 200
    keys = response.json()
    assert {(k["alg"], k["state"]) for k in keys} >= {("RS256", "active"), ("RS256", "next")}
    for key in keys:
        assert key["kid"] == key["public_jwk"]["kid"]
        assert key["published_at"]
    assert_no_private_material(keys)


# ---- users -------------------------------------------------------------------------------


async def test_create_and_list_users(
    client: Client, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    created = await client.post(
        "/admin/users",
        json={"email": "Ada@Example.com", "password": "password1", "roles": ["admin"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ada@example.com" and body["roles"] == ["admin"]
    assert body["disabled"] is False
    assert "password" not in body and "password_hash" not in body
    await make_user(client, admin_headers, "bob@example.com")

    listed = await client.get("/admin/users", headers=admin_headers)
    # The first user is the acting admin (the `admin_accounts` fixture).
    assert [u["email"] for u in listed.json()] == [
        "admin-user@example.com",
        "ada@example.com",
        "bob@example.com",
    ]
    page = await client.get("/admin/users?limit=1&offset=2", headers=admin_headers)
    assert [u["email"] for u in page.json()] == ["bob@example.com"]
    assert_no_private_material(listed.json())


async def test_duplicate_email_is_409(client: Client, admin_headers: dict[str, str]) -> None:
    await make_user(client, admin_headers)
    again = await client.post(
        "/admin/users",
        json={"email": "ADA@example.com", "password": "password2"},
        headers=admin_headers,
    )
    assert again.status_code == 409
    assert again.json()["error"] == "invalid_request"
    assert "ada@example.com" in again.json()["error_description"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address", "password": "password1"},
        {"email": "a@example.com", "password": ""},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": "password1", "roles": ["bad role!"]},
        {"email": "a@example.com", "password": "password1", "roles": "admin"},
        {"email": "a@example.com", "password": "password1", "is_admin": True},
        [],
    ],
)
async def test_bad_user_input_is_400(
    client: Client, admin_headers: dict[str, str], body: object
) -> None:
    response = await client.post("/admin/users", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


async def test_bad_json_and_paging_are_400(client: Client, admin_headers: dict[str, str]) -> None:
    broken = await client.post(
        "/admin/users",
        content=b"{not json",
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    for query in ("limit=0", "limit=100000", "offset=-1", "limit=many"):
        response = await client.get(f"/admin/users?{query}", headers=admin_headers)
        assert response.status_code == 400, query


async def test_disable_revokes_families_and_is_audited(
    client: Client,
    admin_headers: dict[str, str],
    runtime: Runtime,
    database: Database,
    mint_token: MintToken,
) -> None:
    user_id = await make_user(client, admin_headers, roles=("admin",))
    family_ids = [await start_family(database, runtime, user_id) for _ in range(2)]
    # An access token of one of those families (carries `sid`) stops working with it.
    user_token = mint_token(sub=user_id, roles=["admin"], sid=family_ids[0])
    assert (await client.get("/admin/keys", headers=bearer(user_token))).status_code == 200

    response = await client.post(f"/admin/users/{user_id}/disable", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["sessions_revoked"] == 2
    assert response.json()["user"]["disabled"] is True

    async with database.session() as session:
        for family_id in family_ids:
            row = await stored_family(session, family_id)
            assert row is not None and row.revoked_reason == "user_disabled"
    assert (await client.get("/admin/keys", headers=bearer(user_token))).status_code == 401

    events = (await client.get("/admin/audit?action=user.disable", headers=admin_headers)).json()
    assert len(events) == 1
    assert events[0]["actor"] == "admin-user"
    assert events[0]["subject"] == user_id
    assert events[0]["detail"] == {"families_revoked": 2, "browser_sessions_ended": 0}

    enabled = await client.post(f"/admin/users/{user_id}/enable", headers=admin_headers)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    async with database.session() as session:
        row = await stored_family(session, family_ids[0])
        assert row is not None and row.revoked_at is not None  # enabling revives nothing


async def test_revoke_sessions_counts_live_families(
    client: Client, admin_headers: dict[str, str], runtime: Runtime, database: Database
) -> None:
    user_id = await make_user(client, admin_headers)
    other_id = await make_user(client, admin_headers, "bob@example.com")
    mine = [await start_family(database, runtime, user_id) for _ in range(3)]
    theirs = await start_family(database, runtime, other_id)

    response = await client.post(f"/admin/users/{user_id}/revoke-sessions", headers=admin_headers)
    assert response.status_code == 200
    assert response.json() == {"user_id": user_id, "sessions_revoked": 3}
    again = await client.post(f"/admin/users/{user_id}/revoke-sessions", headers=admin_headers)
    assert again.json()["sessions_revoked"] == 0

    async with database.session() as session:
        for family_id in mine:
            row = await stored_family(session, family_id)
            assert row is not None and row.revoked_reason == "logout_all"
        assert await family_is_live(session, theirs, now=runtime.clock())
    events = (await client.get("/admin/audit", headers=admin_headers)).json()
    assert [e["action"] for e in events[:2]] == ["user.revoke_sessions", "user.revoke_sessions"]
    assert user_id == events[0]["subject"]


@pytest.mark.parametrize("action", ["disable", "enable", "revoke-sessions"])
async def test_unknown_user_is_404(
    client: Client, admin_headers: dict[str, str], action: str
) -> None:
    response = await client.post(f"/admin/users/{uuid.uuid4()}/{action}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# ---- clients -----------------------------------------------------------------------------


async def test_client_secret_is_shown_once_and_never_listed(
    client: Client, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        "/admin/clients",
        json={
            "client_id": "billing",
            "grant_types": ["client_credentials"],
            "scopes": ["invoices:read"],
            "audiences": ["billing-api"],
            "alg": "EdDSA",
            "access_token_ttl": 120,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["client_secret"]
    assert isinstance(secret, str) and len(secret) >= 43
    assert body["client"]["audiences"] == ["billing-api"]
    assert body["client"]["access_token_ttl"] == 120

    public = await client.post(
        "/admin/clients",
        json={"client_id": "spa", "public": True, "grant_types": ["refresh_token"]},
        headers=admin_headers,
    )
    assert public.status_code == 201 and public.json()["client_secret"] is None
    assert public.json()["client"]["audiences"] == ["http://127.0.0.1:8000"]

    listed = await client.get("/admin/clients", headers=admin_headers)
    assert [c["client_id"] for c in listed.json()] == ["admin-cli", "billing", "spa"]
    assert secret not in listed.text
    assert "secret" not in listed.text
    assert_no_private_material(listed.json())

    events = (await client.get("/admin/audit?action=client.create", headers=admin_headers)).json()
    assert {e["subject"] for e in events} == {"billing", "spa"}
    assert all(e["actor"] == "admin-user" for e in events)
    assert secret not in str(events)


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "bad id"},
        {"client_id": "x", "grant_types": ["implicit"]},
        {"client_id": "x", "public": True, "grant_types": ["client_credentials"]},
        {"client_id": "x", "alg": "HS256"},
        {"client_id": "x", "access_token_ttl": 0},
        {"client_id": "x", "scopes": ["has space"]},
        {"client_id": "x", "audiences": [""]},
        {"grant_types": ["client_credentials"]},
    ],
)
async def test_bad_client_input_is_400(
    client: Client, admin_headers: dict[str, str], body: dict[str, object]
) -> None:
    response = await client.post("/admin/clients", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


async def test_duplicate_client_is_409(client: Client, admin_headers: dict[str, str]) -> None:
    first = await client.post("/admin/clients", json={"client_id": "svc"}, headers=admin_headers)
    assert first.status_code == 201
    again = await client.post("/admin/clients", json={"client_id": "svc"}, headers=admin_headers)
    assert again.status_code == 409


# ---- audit -------------------------------------------------------------------------------


async def test_audit_is_newest_first_with_limit_and_filter(
    client: Client, admin_headers: dict[str, str]
) -> None:
    for name in ("a", "b", "c"):
        await make_user(client, admin_headers, f"{name}@example.com")
    events = (await client.get("/admin/audit?action=user.create", headers=admin_headers)).json()
    assert [e["detail"]["email"] for e in events] == [
        "c@example.com",
        "b@example.com",
        "a@example.com",
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    limited = await client.get("/admin/audit?limit=1", headers=admin_headers)
    assert len(limited.json()) == 1
    nothing = await client.get("/admin/audit?action=no.such.action", headers=admin_headers)
    assert nothing.json() == []


# ---- the README's bootstrap, end to end --------------------------------------------------


async def test_bootstrap_admin_logs_in_with_the_password_grant_and_calls_the_api(
    client: Client, admin_headers: dict[str, str]
) -> None:
    """An admin user and a password-grant client (made with the CLI in the README), a token
    from the token endpoint, then an admin call with it."""
    await client.post(
        "/admin/users",
        json={"email": "root@example.com", "password": "s3cret-s3cret", "roles": ["admin"]},
        headers=admin_headers,
    )
    created = await client.post(
        "/admin/clients",
        json={"client_id": "root-cli", "grant_types": ["password", "refresh_token"]},
        headers=admin_headers,
    )
    secret = created.json()["client_secret"]
    token = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "root@example.com",
            "password": "s3cret-s3cret",
        },
        auth=("root-cli", secret),
    )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    response = await client.get("/admin/keys", headers=bearer(access))
    assert response.status_code == 200, response.text

    # Disabling that user ends the session behind the token and refuses the next login.
    listed = (await client.get("/admin/users", headers=admin_headers)).json()
    root_id = next(u["id"] for u in listed if u["email"] == "root@example.com")
    await client.post(f"/admin/users/{root_id}/disable", headers=admin_headers)
    assert (await client.get("/admin/keys", headers=bearer(access))).status_code == 401
    again = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "root@example.com",
            "password": "s3cret-s3cret",
        },
        auth=("root-cli", secret),
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
