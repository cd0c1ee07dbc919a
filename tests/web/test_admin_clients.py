"""Clients over the admin API: disjoint from user ids, and their lifecycle (issue 11)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import browser_sessions, consents
from issuer.store.database import Database
from issuer.store.models import RefreshFamily
from tests.oauth.support import (
    MovableClock,
    add_client,
    add_user,
    login,
    post_form,
    refresh,
    serving,
)
from tests.web.conftest import MintToken, admin_rows, mint_admin

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


# ---- the client lifecycle (issue 11 item 5) ----------------------------------------------


async def introspect(client: Client, secret: str | None, token: str) -> dict[str, Any]:
    response = await post_form(
        client, "/oauth/introspect", {"token": token}, auth=("gateway", secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_show_and_update_a_client(client: Client, admin_headers: dict[str, str]) -> None:
    body = {"client_id": "svc", "scopes": ["read"], "audiences": ["urn:a"]}
    assert (await client.post("/admin/clients", json=body, headers=admin_headers)).is_success
    shown = await client.get("/admin/clients/svc", headers=admin_headers)
    assert shown.status_code == 200 and shown.json()["scopes"] == ["read"]
    assert "secret_digest" not in shown.text and shown.json()["rotation_overlap_until"] is None

    changed = await client.patch(
        "/admin/clients/svc",
        json={"scopes": ["read", "write"], "audiences": ["urn:b"], "access_token_ttl": 60},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["scopes"] == ["read", "write"]
    assert changed.json()["audiences"] == ["urn:b"] and changed.json()["access_token_ttl"] == 60
    assert changed.json()["grant_types"] == ["client_credentials"]  # left out: kept
    reset = await client.patch(
        "/admin/clients/svc", json={"access_token_ttl": None}, headers=admin_headers
    )
    assert reset.json()["access_token_ttl"] is None
    # Nothing to change is not an error (it was an UPDATE with no SET: a 503 on SQLite).
    unchanged = await client.patch("/admin/clients/svc", json={}, headers=admin_headers)
    assert unchanged.status_code == 200 and unchanged.json() == reset.json()

    for bad in (
        {"public": True},
        {"grant_types": ["password"], "scopes": ["issuer:admin"]},
        {"audiences": []},
        {"access_token_ttl": 2**31},
    ):
        refused = await client.patch("/admin/clients/svc", json=bad, headers=admin_headers)
        assert refused.status_code == 400, (bad, refused.text)
    events = (await client.get("/admin/audit?action=client.update", headers=admin_headers)).json()
    assert len(events) == 2 and events[1]["detail"]["scopes"] == ["read", "write"]
    for method, path in (
        ("GET", "/admin/clients/nope"),
        ("PATCH", "/admin/clients/nope"),
        ("POST", "/admin/clients/nope/disable"),
        ("POST", "/admin/clients/nope/enable"),
        ("POST", "/admin/clients/nope/rotate-secret"),
        ("DELETE", "/admin/clients/nope"),
    ):
        missing = await client.request(method, path, json={}, headers=admin_headers)
        assert missing.status_code == 404, (method, path, missing.text)


async def test_a_disabled_clients_tokens_and_sessions_stop_working(
    client: Client, runtime: Runtime, database: Database, admin_headers: dict[str, str]
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime, "web")
    gateway = await add_client(database, runtime, "gateway", grant_types=("client_credentials",))
    tokens = (await login(client, secret)).json()
    access = tokens["access_token"]
    assert (await introspect(client, gateway, access))["active"] is True
    user_bearer = {"Authorization": f"Bearer {access}"}
    assert (await client.get("/userinfo", headers=user_bearer)).status_code == 200

    disabled = await client.post("/admin/clients/web/disable", headers=admin_headers)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["sessions_revoked"] == 1
    assert disabled.json()["client"]["disabled"] is True

    # At once in this process (the client cache forgot it), not after its few seconds.
    assert (await login(client, secret)).status_code == 401
    assert (await refresh(client, secret, tokens["refresh_token"])).status_code == 401
    assert (await introspect(client, gateway, access)) == {"active": False}
    assert (await client.get("/userinfo", headers=user_bearer)).status_code == 401
    async with database.session() as session:
        [family] = (await session.scalars(select(RefreshFamily))).all()
        assert family.revoked_reason == "client_disabled"
    events = (await client.get("/admin/audit?action=client.disable", headers=admin_headers)).json()
    assert events[0]["subject"] == "web" and events[0]["detail"] == {"families_revoked": 1}

    enabled = await client.post("/admin/clients/web/enable", headers=admin_headers)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert (await login(client, secret)).status_code == 200
    refused = await refresh(client, secret, tokens["refresh_token"])
    assert refused.status_code == 400  # its old sessions stay ended


async def test_a_disabled_admin_clients_token_no_longer_opens_the_api(
    client: Client, mint_token: MintToken, admin_headers: dict[str, str]
) -> None:
    robot = {"Authorization": f"Bearer {mint_token(sub='admin-cli', scope='issuer:admin')}"}
    assert (await client.get("/admin/clients", headers=robot)).status_code == 200
    assert (await client.post("/admin/clients/admin-cli/disable", headers=robot)).is_success
    assert (await client.get("/admin/clients", headers=robot)).status_code == 401


async def test_rotating_a_secret_without_overlap_ends_the_old_one_at_once(
    client: Client, runtime: Runtime, database: Database, admin_headers: dict[str, str]
) -> None:
    old = await add_client(database, runtime, "svc", grant_types=("client_credentials",))
    grant = {"grant_type": "client_credentials"}
    assert (await post_form(client, "/oauth/token", grant, auth=("svc", old))).is_success
    rotated = await client.post("/admin/clients/svc/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old and rotated.json()["rotation_overlap_until"] is None
    assert (await post_form(client, "/oauth/token", grant, auth=("svc", old))).status_code == 401
    assert (await post_form(client, "/oauth/token", grant, auth=("svc", new))).is_success
    events = await client.get("/admin/audit?action=client.rotate_secret", headers=admin_headers)
    assert new not in events.text and old not in events.text
    public = await add_client(database, runtime, "spa", public=True, grant_types=("refresh_token",))
    assert public is None
    refused = await client.post("/admin/clients/spa/rotate-secret", headers=admin_headers)
    assert refused.status_code == 400 and "no secret" in refused.json()["error_description"]


async def test_the_old_secret_works_for_the_stated_overlap(
    settings: Settings, database: Database
) -> None:
    clock = MovableClock()
    overlapping = replace(settings, client_secret_overlap_seconds=60)
    async with serving(overlapping, clock) as (client, runtime):
        await admin_rows(database, runtime)
        old = await add_client(database, runtime, "svc", grant_types=("client_credentials",))
        headers = {"Authorization": f"Bearer {mint_admin(runtime)}"}
        grant = {"grant_type": "client_credentials"}
        rotated = await client.post("/admin/clients/svc/rotate-secret", headers=headers)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["client_secret"]
        assert rotated.json()["rotation_overlap_until"] is not None
        for secret in (old, new):
            assert (await post_form(client, "/oauth/token", grant, auth=("svc", secret))).is_success
        clock.advance(61)
        expired = await post_form(client, "/oauth/token", grant, auth=("svc", old))
        assert expired.status_code == 401
        assert (await post_form(client, "/oauth/token", grant, auth=("svc", new))).is_success
        # A per-call overlap wins over the setting; 0 ends the old secret at once.
        again = await client.post(
            "/admin/clients/svc/rotate-secret", json={"overlap_seconds": 0}, headers=headers
        )
        newest = again.json()["client_secret"]
        assert (
            await post_form(client, "/oauth/token", grant, auth=("svc", new))
        ).status_code == 401
        assert (await post_form(client, "/oauth/token", grant, auth=("svc", newest))).is_success


async def test_deleting_a_client_with_live_sessions_needs_force(
    client: Client, runtime: Runtime, database: Database, admin_headers: dict[str, str]
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime, "web")
    gateway = await add_client(database, runtime, "gateway", grant_types=("client_credentials",))
    access = (await login(client, secret)).json()["access_token"]

    refused = await client.delete("/admin/clients/web", headers=admin_headers)
    assert refused.status_code == 409, refused.text
    assert "1 live sessions" in refused.json()["error_description"]
    assert (await introspect(client, gateway, access))["active"] is True

    deleted = await client.delete("/admin/clients/web?force=true", headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"client_id": "web", "sessions_revoked": 1}
    assert (await client.get("/admin/clients/web", headers=admin_headers)).status_code == 404
    assert (await login(client, secret)).status_code == 401  # forgotten by the cache at once
    assert (await introspect(client, gateway, access)) == {"active": False}
    async with database.session() as session:
        assert (await session.scalars(select(RefreshFamily))).all() == []
    events = (await client.get("/admin/audit?action=client.delete", headers=admin_headers)).json()
    assert events[0]["detail"] == {"families_revoked": 1, "forced": True}
    # A client without sessions is deleted without force.
    assert (await client.delete("/admin/clients/gateway", headers=admin_headers)).is_success


# ---- the login's client options, consents and browser sessions (issue 12) ----------------


async def test_a_login_client_is_registered_and_changed_with_its_options(
    client: Client, admin_headers: dict[str, str]
) -> None:
    body = {
        "client_id": "spa",
        "public": True,
        "redirect_uris": ["https://app.example.com/cb", "http://localhost:3000/cb"],
        "post_logout_redirect_uris": ["https://app.example.com/bye"],
        "consent_required": True,
        "id_token_alg": "EdDSA",
        "name": "The App",
    }
    created = await client.post("/admin/clients", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    shown = created.json()["client"]
    assert shown["grant_types"] == ["authorization_code", "refresh_token"]
    for name in ("redirect_uris", "post_logout_redirect_uris", "id_token_alg", "name"):
        assert shown[name] == body[name], name
    assert shown["consent_required"] is True

    changed = await client.patch(
        "/admin/clients/spa",
        json={
            "redirect_uris": ["com.example.app:/cb"],
            "consent_required": False,
            "id_token_alg": None,
            "name": None,
        },
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["redirect_uris"] == ["com.example.app:/cb"]
    assert (after["consent_required"], after["id_token_alg"], after["name"]) == (
        False,
        "RS256",
        None,
    )
    assert after["post_logout_redirect_uris"] == ["https://app.example.com/bye"]  # kept


@pytest.mark.parametrize(
    "bad",
    [
        {"redirect_uris": ["http://app.example.com/cb"]},
        {"redirect_uris": ["https://app.example.com/cb#x"]},
        {"redirect_uris": ["javascript:alert(1)"]},
        {"redirect_uris": ["https://[::1/cb"]},
        {"post_logout_redirect_uris": ["data:text/html,hi"]},
        {"redirect_uris": [""]},
        {"redirect_uris": ["https://a.example/" + "x" * 2048]},
        {"id_token_alg": "HS256"},
        {"name": ""},
        {"name": "a\u0000b"},
    ],
)
async def test_bad_login_options_are_400(
    client: Client, admin_headers: dict[str, str], bad: dict[str, Any]
) -> None:
    created = await client.post(
        "/admin/clients", json={"client_id": "spa", "public": True, **bad}, headers=admin_headers
    )
    assert created.status_code == 400, (bad, created.text)
    assert created.json()["error"] == "invalid_request"
    await client.post(
        "/admin/clients", json={"client_id": "ok", "public": True}, headers=admin_headers
    )
    changed = await client.patch("/admin/clients/ok", json=bad, headers=admin_headers)
    assert changed.status_code == 400, (bad, changed.text)


async def test_revoke_consents_forgets_them_for_one_client_or_all(
    client: Client, runtime: Runtime, database: Database, admin_headers: dict[str, str]
) -> None:
    user_id = await add_user(database, runtime)
    for client_id in ("spa", "crm"):
        await add_client(database, runtime, client_id, grant_types=["authorization_code"])
        async with database.session() as session:
            await consents.remember(session, user_id, client_id, ["openid"], now=runtime.clock())
    one = await client.post(
        f"/admin/users/{user_id}/revoke-consents", json={"client_id": "spa"}, headers=admin_headers
    )
    assert one.status_code == 200, one.text
    assert one.json() == {"user_id": user_id, "client_id": "spa", "consents_revoked": 1}
    async with database.session() as session:
        assert await consents.granted(session, user_id, "spa") == frozenset()
        assert await consents.granted(session, user_id, "crm") == {"openid"}
    every = await client.post(f"/admin/users/{user_id}/revoke-consents", headers=admin_headers)
    assert every.json() == {"user_id": user_id, "client_id": None, "consents_revoked": 1}
    missing = await client.post("/admin/users/nobody/revoke-consents", headers=admin_headers)
    assert missing.status_code == 404
    unknown_field = await client.post(
        f"/admin/users/{user_id}/revoke-consents", json={"client": "spa"}, headers=admin_headers
    )
    assert unknown_field.status_code == 400


@pytest.mark.parametrize("step", ["revoke-sessions", "disable"])
async def test_ending_a_users_sessions_ends_their_browser_sessions(
    client: Client,
    runtime: Runtime,
    database: Database,
    admin_headers: dict[str, str],
    step: str,
) -> None:
    user_id = await add_user(database, runtime)
    other = await add_user(database, runtime, "bob@example.com")
    cookies = []
    for owner in (user_id, user_id, other):
        async with database.session() as session:
            cookie, _ = await browser_sessions.start(
                session, user_id=owner, now=runtime.clock(), lifetime=3600
            )
        cookies.append(cookie)
    response = await client.post(f"/admin/users/{user_id}/{step}", headers=admin_headers)
    assert response.status_code == 200, response.text
    async with database.session() as session:
        found = [await browser_sessions.find(session, c, now=runtime.clock()) for c in cookies]
    assert [session is None for session in found] == [True, True, False]
    action = {"revoke-sessions": "user.revoke_sessions", "disable": "user.disable"}[step]
    events = (await client.get(f"/admin/audit?action={action}", headers=admin_headers)).json()
    assert events[0]["detail"] == {"families_revoked": 0, "browser_sessions_ended": 2}
