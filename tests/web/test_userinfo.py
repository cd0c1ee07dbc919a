"""GET and POST /userinfo with a Bearer access token."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import users
from issuer.store.database import Database
from tests.oauth.login_support import add_login_client, code_flow
from tests.oauth.support import add_client, add_user, login, post_form

Client = AsyncTestClient[Litestar]


async def access_token(client: Client, runtime: Runtime, database: Database) -> tuple[str, str]:
    user_id = await add_user(database, runtime, roles=["admin", "reader"])
    secret = await add_client(database, runtime)
    body = (await login(client, secret)).json()
    return user_id, body["access_token"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_userinfo_answers_for_the_tokens_user(
    client: Client, runtime: Runtime, database: Database, method: str
) -> None:
    user_id, token = await access_token(client, runtime, database)
    response = await client.request(
        method, "/userinfo", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sub": user_id,
        "email": "ada@example.com",
        "email_verified": False,
        "roles": ["admin", "reader"],
    }
    assert response.headers["cache-control"] == "no-store"


async def test_refresh_tokens_and_garbage_are_401_with_a_bearer_challenge(
    client: Client, runtime: Runtime, database: Database
) -> None:
    await add_user(database, runtime)
    secret = await add_client(database, runtime)
    tokens = (await login(client, secret)).json()
    for authorization in (f"Bearer {tokens['refresh_token']}", "Bearer garbage", "Basic abc", ""):
        headers = {"Authorization": authorization} if authorization else {}
        response = await client.get("/userinfo", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith('Bearer realm="issuer"')


async def test_a_client_credentials_token_has_no_user(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime, "svc", grant_types=["client_credentials"])
    cc = await post_form(
        client, "/oauth/token", {"grant_type": "client_credentials"}, auth=("svc", secret)
    )
    response = await client.get(
        "/userinfo", headers={"Authorization": f"Bearer {cc.json()['access_token']}"}
    )
    assert response.status_code == 401
    assert "client, not a user" in response.json()["error_description"]


async def test_a_disabled_user_gets_401(
    client: Client, runtime: Runtime, database: Database
) -> None:
    user_id, token = await access_token(client, runtime, database)
    async with database.session() as session:
        await users.set_disabled(session, user_id, True)
    response = await client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_a_code_flow_token_answers_per_scope(settings: Settings, database: Database) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code(scope="openid email read")
        with_email = (await flow.exchange(code, verifier)).json()["access_token"]
        code, verifier = await flow.code(scope="openid read")
        sub_only = (await flow.exchange(code, verifier)).json()["access_token"]
        answers = [await flow.userinfo(token) for token in (with_email, sub_only)]
        assert [answer.status_code for answer in answers] == [200, 200]
        assert answers[0].json() == {
            "sub": flow.user_id,
            "email": "ada@example.com",
            "email_verified": False,
        }
        assert answers[1].json() == {"sub": flow.user_id}


async def test_a_code_flow_token_without_a_refresh_family_still_has_its_user(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "oauth", grant_types=["authorization_code"])
        code, verifier = await flow.code("oauth", scope="openid")
        body = (await flow.exchange(code, verifier, client_id="oauth")).json()
        assert "refresh_token" not in body
        answer = await flow.userinfo(body["access_token"])
        assert answer.status_code == 200 and answer.json() == {"sub": flow.user_id}
