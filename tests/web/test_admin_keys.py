"""Key rotation and revocation through the admin API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from issuer.runtime import Runtime
from issuer.store.database import Database
from issuer.store.models import SigningKey
from tests.web.conftest import MintToken
from tests.web.test_admin import assert_no_private_material, bearer

Client = AsyncTestClient[Litestar]


async def keys_by_state(client: Client, headers: dict[str, str], alg: str) -> dict[str, str]:
    keys = (await client.get("/admin/keys", headers=headers)).json()
    return {k["state"]: k["kid"] for k in keys if k["alg"] == alg and k["state"] != "retired"}


async def test_rotation_is_refused_while_the_next_key_is_too_new(
    client: Client, admin_headers: dict[str, str]
) -> None:
    before = (await client.get("/admin/keys", headers=admin_headers)).json()
    response = await client.post("/admin/keys/rotate", json={"alg": "RS256"}, headers=admin_headers)
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_request"
    description = response.json()["error_description"]
    assert "not yet" in description
    # The API names its own parameter, never the CLI's flag.
    assert "--force" not in description and '"force": true' in description
    assert 1 <= int(response.headers["retry-after"]) <= 310
    assert (await client.get("/admin/keys", headers=admin_headers)).json() == before

    # No body at all: every configured alg, each refused.
    everything = await client.post("/admin/keys/rotate", headers=admin_headers)
    assert everything.status_code == 409
    assert "RS256" in everything.text and "EdDSA" in everything.text


async def test_forced_rotation_activates_next_and_the_ring_follows(
    client: Client, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    old = await keys_by_state(client, admin_headers, "RS256")
    response = await client.post(
        "/admin/keys/rotate", json={"alg": "RS256", "force": True}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    [result] = response.json()
    assert result["outcome"] == "rotated"
    assert result["activated"] == old["next"] and result["retired"] == old["active"]
    assert result["risk"]  # forcing says what it risks
    assert result["wait_seconds"] == 0 and result["too_early_until"] is None
    assert_no_private_material(response.json())

    new = await keys_by_state(client, admin_headers, "RS256")
    assert new["active"] == old["next"] and new["next"] == result["next"]
    # This process's ring was refreshed at once: it signs with the new key.
    assert runtime.keys.ring.active["RS256"].kid == old["next"]
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert {old["active"], old["next"], result["next"]} <= {k["kid"] for k in jwks["keys"]}

    # The admin token signed by the retired key still works until it expires.
    assert (await client.get("/admin/keys", headers=admin_headers)).status_code == 200
    events = (await client.get("/admin/audit?action=key.activate", headers=admin_headers)).json()
    assert events[0]["subject"] == old["next"] and events[0]["actor"] == "admin-user"


async def test_revoking_the_active_key_rejects_its_tokens(
    client: Client, admin_headers: dict[str, str], runtime: Runtime, mint_token: MintToken
) -> None:
    old = await keys_by_state(client, admin_headers, "RS256")
    response = await client.post(f"/admin/keys/{old['active']}/revoke", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["previous_state"] == "active" and body["activated"] == old["next"]
    assert_no_private_material(body)

    # The token that made the call was signed by the revoked key: it is refused now.
    assert (await client.get("/admin/keys", headers=admin_headers)).status_code == 401
    fresh = bearer(mint_token(roles=["admin"]))
    listed = (await client.get("/admin/keys", headers=fresh)).json()
    revoked = [k for k in listed if k["kid"] == old["active"]]
    assert revoked[0]["state"] == "revoked" and revoked[0]["revoked_at"]
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert old["active"] not in {k["kid"] for k in jwks["keys"]}

    again = await client.post(f"/admin/keys/{old['active']}/revoke", headers=fresh)
    assert again.status_code == 409
    assert "already revoked" in again.json()["error_description"]
    events = (await client.get("/admin/audit?action=key.revoke", headers=fresh)).json()
    assert [(e["subject"], e["actor"]) for e in events] == [(old["active"], "admin-user")]


async def test_revoking_the_next_key_pre_publishes_another(
    client: Client, admin_headers: dict[str, str]
) -> None:
    old = await keys_by_state(client, admin_headers, "EdDSA")
    response = await client.post(f"/admin/keys/{old['next']}/revoke", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["next"] not in (None, old["next"])
    new = await keys_by_state(client, admin_headers, "EdDSA")
    assert new["active"] == old["active"] and new["next"] == response.json()["next"]


async def test_unknown_kid_is_404(client: Client, admin_headers: dict[str, str]) -> None:
    response = await client.post("/admin/keys/no-such-kid/revoke", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "body", [{"alg": "HS256"}, {"force": "yes"}, {"alg": "RS256", "extra": 1}, [1]]
)
async def test_bad_rotation_input_is_400(
    client: Client, admin_headers: dict[str, str], body: object
) -> None:
    response = await client.post("/admin/keys/rotate", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text


async def test_key_endpoints_need_an_admin(
    client: Client, mint_token: MintToken, admin_accounts: None
) -> None:
    staff = bearer(mint_token(roles=["staff"]))
    assert (await client.post("/admin/keys/rotate", headers=staff)).status_code == 403
    assert (await client.post("/admin/keys/x/revoke", headers=staff)).status_code == 403
    assert (await client.post("/admin/keys/rotate")).status_code == 401


async def test_a_partly_refused_rotation_says_when_the_rest_may_rotate(
    client: Client, admin_headers: dict[str, str], runtime: Runtime, database: Database
) -> None:
    old = await keys_by_state(client, admin_headers, "EdDSA")
    async with database.session() as session:
        # EdDSA's next key has been published for a day: it may sign; RS256's may not yet.
        await session.execute(
            update(SigningKey)
            .where(SigningKey.kid == old["next"])
            .values(published_at=runtime.clock() - timedelta(days=1))
        )
    response = await client.post("/admin/keys/rotate", headers=admin_headers)
    assert response.status_code == 200, response.text
    by_alg = {result["alg"]: result for result in response.json()}
    assert by_alg["EdDSA"]["outcome"] == "rotated" and by_alg["EdDSA"]["risk"] is None
    early = by_alg["RS256"]
    assert early["outcome"] == "too_early" and early["activated"] is None
    assert 1 <= early["wait_seconds"] <= 310
    until = datetime.fromisoformat(early["too_early_until"])
    assert timedelta(0) < until - runtime.clock() <= timedelta(seconds=310)
    assert '"force": true' in early["message"] and "--force" not in early["message"]
