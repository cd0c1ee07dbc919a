"""RFC 7009 over HTTP: refresh tokens end their family, access tokens go on the deny-list."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store import denylist
from issuer.store.database import Database
from tests.oauth.support import add_client, add_user, family_is_live, login, post_form, refresh

Client = AsyncTestClient[Litestar]


async def session_for(client: Client, runtime: Runtime, database: Database) -> tuple[str, dict]:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    assert secret is not None
    return secret, (await login(client, secret)).json()


async def test_revoking_a_refresh_token_ends_the_family_and_its_access_tokens(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, tokens = await session_for(client, runtime, database)
    data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    response = await post_form(client, "/oauth/revoke", data, auth=("web", secret))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["cache-control"] == "no-store"
    sid = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")["sid"]
    async with database.session() as session:
        assert not await family_is_live(session, sid, now=runtime.clock())
    assert (await refresh(client, secret, tokens["refresh_token"])).status_code == 400
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/userinfo", headers=bearer)).status_code == 401


async def test_revoking_an_access_token_deny_lists_its_jti(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, tokens = await session_for(client, runtime, database)
    # A wrong hint is only where to look first (RFC 7009 §2.1).
    data = {"token": tokens["access_token"], "token_type_hint": "refresh_token"}
    assert (await post_form(client, "/oauth/revoke", data, auth=("web", secret))).status_code == 200
    jti = runtime.keys.ring.verify(tokens["access_token"], typ="at+jwt")["jti"]
    async with database.session() as session:
        assert await denylist.contains(session, jti)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/userinfo", headers=bearer)).status_code == 401
    # The family itself lives on: the refresh token still works.
    assert (await refresh(client, secret, tokens["refresh_token"])).status_code == 200


async def test_another_clients_tokens_are_not_revoked_but_the_answer_is_200(
    client: Client, runtime: Runtime, database: Database
) -> None:
    _, tokens = await session_for(client, runtime, database)
    other = await add_client(database, runtime, "other")
    for token in (tokens["refresh_token"], tokens["access_token"]):
        response = await post_form(client, "/oauth/revoke", {"token": token}, auth=("other", other))
        assert response.status_code == 200
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/userinfo", headers=bearer)).status_code == 200


async def test_revocation_needs_client_authentication(
    client: Client, runtime: Runtime, database: Database
) -> None:
    _, tokens = await session_for(client, runtime, database)
    data = {"token": tokens["refresh_token"]}
    assert (await post_form(client, "/oauth/revoke", data)).status_code == 401
    wrong = await post_form(client, "/oauth/revoke", data, auth=("web", "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


async def test_unsupported_hint_and_missing_token(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret, tokens = await session_for(client, runtime, database)
    data = {"token": tokens["access_token"], "token_type_hint": "id_token"}
    response = await post_form(client, "/oauth/revoke", data, auth=("web", secret))
    assert response.status_code == 400 and response.json()["error"] == "unsupported_token_type"
    missing = await post_form(client, "/oauth/revoke", {}, auth=("web", secret))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_public_client_may_revoke_its_own_tokens(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_client(database, runtime, "spa", grant_types=["refresh_token"], public=True)
    response = await post_form(client, "/oauth/revoke", {"token": "x", "client_id": "spa"})
    assert response.status_code == 200
