"""Issue 11.7: the issuer is the clock of record; no leeway on exp at its own endpoints, and
a revoked token stays refused after the clean-up job ran."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer import cleanup
from issuer.jose.claims import validate_claims
from issuer.jose.errors import Reason, VerificationError
from issuer.oauth.access import LEEWAY_SECONDS
from issuer.runtime import Runtime
from issuer.store import denylist
from issuer.store.database import Database
from issuer.verify import Verifier
from tests.oauth.support import API, add_client, add_user, login, post_form
from tests.web.conftest import MintToken

Client = AsyncTestClient[Litestar]


async def introspect(client: Client, secret: str | None, token: str) -> object:
    response = await post_form(client, "/oauth/introspect", {"token": token}, auth=("web", secret))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_token_one_second_past_exp_is_refused_everywhere(
    client: Client, runtime: Runtime, database: Database, mint_token: MintToken
) -> None:
    user_id = await add_user(database, runtime, roles=["admin"])
    secret = await add_client(database, runtime)
    sid = runtime.keys.ring.verify(
        (await login(client, secret)).json()["access_token"], typ="at+jwt"
    )["sid"]
    same = {"sub": user_id, "aud": API, "client_id": "web", "sid": sid}
    live, expired = mint_token(**same, ttl=60), mint_token(**same, ttl=-1)
    assert (await introspect(client, secret, live))["active"] is True  # type: ignore[index]
    assert await introspect(client, secret, expired) == {"active": False}

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert (await client.get("/userinfo", headers=bearer(live))).status_code == 200
    response = await client.get("/userinfo", headers=bearer(expired))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    # The admin guard also asks that the token's client exists: "web" from the login above.
    admin_live = mint_token(sub=user_id, roles=["admin"], client_id="web", ttl=60)
    admin_expired = mint_token(sub=user_id, roles=["admin"], client_id="web", ttl=-1)
    assert (await client.get("/admin/keys", headers=bearer(admin_live))).status_code == 200
    assert (await client.get("/admin/keys", headers=bearer(admin_expired))).status_code == 401


async def test_a_revoked_token_stays_refused_after_the_clean_up_ran(
    client: Client, runtime: Runtime, database: Database, mint_token: MintToken
) -> None:
    secret = await add_client(database, runtime)
    token = mint_token(aud=API, client_id="web", ttl=-1)
    jti = runtime.keys.ring.verify(token, typ="at+jwt")["jti"]
    now = runtime.clock()
    async with database.session() as session:
        await denylist.add(session, jti, until=now - timedelta(seconds=1), now=now)
    await cleanup.purge_expired(database, now=now)
    async with database.session() as session:
        assert await denylist.contains(session, jti)
    assert await introspect(client, secret, token) == {"active": False}


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def test_deny_list_rows_outlive_every_leeway(database: Database) -> None:
    verifier_leeway = inspect.signature(Verifier).parameters["leeway"].default
    assert timedelta(seconds=max(verifier_leeway, LEEWAY_SECONDS)) < denylist.RETAIN_PAST_EXPIRY
    async with database.session() as session:
        await denylist.add(session, "j", until=NOW, now=NOW - timedelta(minutes=5))
    async with database.session() as session:
        just_inside = NOW + denylist.RETAIN_PAST_EXPIRY - timedelta(seconds=1)
        assert await denylist.purge_expired(session, now=just_inside) == 0
    async with database.session() as session:
        assert await denylist.purge_expired(session, now=NOW + denylist.RETAIN_PAST_EXPIRY) == 1


def test_validate_claims_keeps_the_leeway_on_exp_unless_told_otherwise() -> None:
    now = NOW.timestamp()
    claims = {
        "iss": "https://id.example.com",
        "sub": "u",
        "aud": "a",
        "client_id": "c",
        "exp": int(now) - 1,
        "iat": int(now) - 60,
        "jti": "j",
    }
    common = {"issuer": "https://id.example.com", "audiences": ["a"], "now": now, "leeway": 5}
    assert validate_claims(claims, **common).sub == "u"  # type: ignore[arg-type]
    with pytest.raises(VerificationError) as refused:
        validate_claims(claims, **common, exp_leeway=0)  # type: ignore[arg-type]
    assert refused.value.reason is Reason.EXPIRED
