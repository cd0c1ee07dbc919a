"""grant_type=authorization_code at the token endpoint, over HTTP on both databases: PKCE,
redirect_uri, client binding, 60 s, single use (a second use revokes what the first
issued), the ID token, the refresh family tied to the browser session."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import jwt as pyjwt
import pytest

from issuer.oauth.authorization import end_browser_session
from issuer.settings import Settings
from issuer.store import audit, authorization_codes, clients, users
from issuer.store.database import Database
from tests.oauth.login_support import ISSUER, REDIRECT_URI, add_login_client, code_flow
from tests.oauth.support import (
    API,
    add_client,
    family_is_live,
    post_form,
    stored_refresh_token,
)


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def left_half(token: str, hash_name: str) -> str:
    digest = hashlib.new(hash_name, token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def decode(token: str, jwks: dict[str, Any], *, audience: str) -> dict[str, Any]:
    """Verify as an unmodified client library does: the JWKS, pinned algs, iss, aud, exp."""
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = pyjwt.PyJWKSet.from_dict(jwks)[kid]
    claims: dict[str, Any] = pyjwt.decode(
        token,
        key.key,
        algorithms=["RS256", "EdDSA"],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return claims


async def test_a_code_gets_access_refresh_and_id_tokens(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        response = await flow.exchange(code, verifier)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert set(body) == {
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "scope",
            "id_token",
        }
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
        assert body["scope"] == "openid email read"
        jwks = await flow.jwks()
        access = decode(body["access_token"], jwks, audience=API)
        assert pyjwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
        assert (access["sub"], access["client_id"]) == (flow.user_id, "spa")
        assert access["roles"] == ["reader"]

        header = pyjwt.get_unverified_header(body["id_token"])
        assert (header["typ"], header["alg"]) == ("JWT", "RS256")
        claims = decode(body["id_token"], jwks, audience="spa")
        now = int(flow.clock().timestamp())
        assert claims == {
            "iss": ISSUER,
            "sub": flow.user_id,
            "aud": "spa",
            "iat": now,
            "exp": now + 900,
            "auth_time": int(flow.browser.auth_time.timestamp()),
            "nonce": "n-1",
            "at_hash": left_half(body["access_token"], "sha256"),
            "sid": flow.browser.id,
            "email": "ada@example.com",
            "email_verified": False,
        }
        assert claims["auth_time"] == now - 100
        # The refresh token starts a family in the browser session.
        _, family = await stored_refresh_token(database, body["refresh_token"])
        assert (family.session_id, family.user_id, family.client_id) == (
            flow.browser.id,
            flow.user_id,
            "spa",
        )
        assert (family.scope, family.audience) == ("openid email read", API)


async def test_an_ed25519_id_token_hashes_with_sha512(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "ed", id_token_alg="EdDSA")
        code, verifier = await flow.code("ed", scope="openid")
        body = (await flow.exchange(code, verifier, client_id="ed")).json()
        assert pyjwt.get_unverified_header(body["access_token"])["alg"] == "RS256"
        assert pyjwt.get_unverified_header(body["id_token"])["alg"] == "EdDSA"
        claims = decode(body["id_token"], await flow.jwks(), audience="ed")
        assert claims["at_hash"] == left_half(body["access_token"], "sha512")
        assert "email" not in claims and "email_verified" not in claims


async def test_without_openid_there_is_no_id_token_and_without_refresh_no_refresh_token(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "oauth", grant_types=["authorization_code"])
        code, verifier = await flow.code("oauth", scope="read")
        body = (await flow.exchange(code, verifier, client_id="oauth")).json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["scope"] == "read"
        assert "sid" not in decode(body["access_token"], await flow.jwks(), audience=API)


async def test_a_confidential_client_authenticates(settings: Settings, database: Database) -> None:
    async with code_flow(settings, database) as flow:
        secret = await add_client(
            database,
            flow.runtime,
            "backend",
            grant_types=("authorization_code", "refresh_token"),
        )
        async with database.session() as session:
            await clients.change(session, "backend", redirect_uris=[REDIRECT_URI])
        code, verifier = await flow.code("backend", scope="openid")
        unauthenticated = await flow.exchange(code, verifier, client_id="backend")
        assert error_of(unauthenticated) == (401, "invalid_client")
        wrong = await flow.exchange(code, verifier, client_id="backend", secret="nope")
        assert error_of(wrong) == (401, "invalid_client")
        good = await flow.exchange(code, verifier, client_id="backend", secret=secret)
        assert good.status_code == 200, good.text


async def test_a_second_use_is_refused_and_revokes_what_the_first_issued(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        first = (await flow.exchange(code, verifier)).json()
        assert (await flow.userinfo(first["access_token"])).status_code == 200
        again = await flow.exchange(code, verifier)
        assert error_of(again) == (400, "invalid_grant")
        assert "already used" in again.json()["error_description"]
        # Committed before the error: the access token (deny-list) and the family are gone.
        assert (await flow.userinfo(first["access_token"])).status_code == 401
        _, family = await stored_refresh_token(database, first["refresh_token"])
        assert family.revoked_reason == "code_reuse"
        refreshed = await flow.refresh(first["refresh_token"])
        assert error_of(refreshed) == (400, "invalid_grant")
        async with database.session() as session:
            events = await audit.recent(session, action="code.reuse")
        assert [(e.actor, e.subject) for e in events] == [("client:spa", family.id)]
        # A third use is refused the same way; nothing more to revoke.
        assert error_of(await flow.exchange(code, verifier)) == (400, "invalid_grant")


async def test_two_uses_at_once_get_one_token_set_and_it_is_revoked(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        responses = await asyncio.gather(*(flow.exchange(code, verifier) for _ in range(4)))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 400, 400, 400]
        winner = next(r.json() for r in responses if r.status_code == 200)
        assert (await flow.userinfo(winner["access_token"])).status_code == 401
        async with database.session() as session:
            _, family = await stored_refresh_token(database, winner["refresh_token"])
            assert not await family_is_live(session, family.id, now=flow.clock())


async def test_a_code_lives_60_seconds(settings: Settings, database: Database) -> None:
    async with code_flow(settings, database) as flow:
        fresh, fresh_verifier = await flow.code()
        stale, stale_verifier = await flow.code()
        flow.clock.advance(59)
        assert (await flow.exchange(fresh, fresh_verifier)).status_code == 200
        flow.clock.advance(1)
        expired = await flow.exchange(stale, stale_verifier)
        assert error_of(expired) == (400, "invalid_grant")
        assert expired.json()["error_description"] == "the authorization code has expired"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"redirect_uri": REDIRECT_URI + "/"}, 400, "invalid_grant"),
        ({"redirect_uri": "https://app.example.com/other"}, 400, "invalid_grant"),
        ({"code_verifier": "x" * 43}, 400, "invalid_grant"),
        ({"code_verifier": "short"}, 400, "invalid_request"),
        ({"code_verifier": "é" * 43}, 400, "invalid_request"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"resource": "https://other.example.com"}, 400, "invalid_target"),
        ({"resource": "https://evil.example.com"}, 400, "invalid_target"),
    ],
)
async def test_a_code_is_bound_to_its_redirect_uri_verifier_and_resource(
    settings: Settings, database: Database, change: dict[str, str], status: int, error: str
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code(resource=API)
        data = {"code": code, "code_verifier": verifier, **change}
        code, verifier = data.pop("code"), data.pop("code_verifier")
        refused = await flow.exchange(code, verifier, **data)
        assert error_of(refused) == (status, error)


async def test_a_failed_check_leaves_the_code_for_its_real_exchange(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code(resource=API)
        assert error_of(await flow.exchange(code, "y" * 43)) == (400, "invalid_grant")
        good = await flow.exchange(code, verifier, resource=API)
        assert good.status_code == 200, good.text
        assert decode(good.json()["access_token"], await flow.jwks(), audience=API)


@pytest.mark.parametrize("missing", ["code", "redirect_uri", "code_verifier"])
async def test_a_missing_parameter_is_invalid_request(
    settings: Settings, database: Database, missing: str
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        data = {
            "grant_type": "authorization_code",
            "client_id": "spa",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        del data[missing]
        response = await post_form(flow.http, "/oauth/token", data)
        assert error_of(response) == (400, "invalid_request")
        assert missing in response.json()["error_description"]


async def test_another_client_cannot_use_the_code(settings: Settings, database: Database) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "other")
        code, verifier = await flow.code()
        stolen = await flow.exchange(code, verifier, client_id="other")
        assert error_of(stolen) == (400, "invalid_grant")
        assert "another client" in stolen.json()["error_description"]
        assert (await flow.exchange(code, verifier)).status_code == 200


async def test_a_client_without_the_grant_is_unauthorized(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        await add_login_client(database, flow.clock(), "refresher", grant_types=["refresh_token"])
        refused = await flow.exchange(code, verifier, client_id="refresher")
        assert error_of(refused) == (400, "unauthorized_client")


async def test_a_user_disabled_after_the_code_gets_nothing(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        async with database.session() as session:
            await users.set_disabled(session, flow.user_id, True)
        assert error_of(await flow.exchange(code, verifier)) == (400, "invalid_grant")


async def test_the_family_refreshes_with_its_scope_and_ends_with_the_browser_session(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        first = (await flow.exchange(code, verifier)).json()
        rotated = await flow.refresh(first["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["scope"] == "openid email read"
        await end_browser_session(flow.runtime.server, flow.browser, now=flow.clock())
        after = await flow.refresh(rotated.json()["refresh_token"])
        assert error_of(after) == (400, "invalid_grant")
        assert (await flow.userinfo(rotated.json()["access_token"])).status_code == 401


async def test_a_code_of_a_browser_session_logged_out_since_gets_nothing(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        await end_browser_session(flow.runtime.server, flow.browser, now=flow.clock())
        refused = await flow.exchange(code, verifier)
        assert error_of(refused) == (400, "invalid_grant")
        assert refused.json()["error_description"] == "the login session has ended"


async def test_a_repeated_code_parameter_is_invalid_request(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        body = (
            f"grant_type=authorization_code&client_id=spa&code={code}&code={code}"
            f"&redirect_uri={REDIRECT_URI}&code_verifier={verifier}"
        )
        response = await flow.http.post(
            "/oauth/token",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert error_of(response) == (400, "invalid_request")
        assert (await flow.exchange(code, verifier)).status_code == 200


async def test_a_replay_after_the_codes_60_seconds_still_revokes(
    settings: Settings, database: Database
) -> None:
    async with code_flow(settings, database) as flow:
        code, verifier = await flow.code()
        first = (await flow.exchange(code, verifier)).json()
        flow.clock.advance(120)
        again = await flow.exchange(code, verifier)
        assert error_of(again) == (400, "invalid_grant")
        assert "already used" in again.json()["error_description"]
        _, family = await stored_refresh_token(database, first["refresh_token"])
        assert family.revoked_reason == "code_reuse"


# Each way an exchange can be wrong, as `exchange_with` applies it.
FAULTS = {
    "unknown": "the authorization code is invalid",
    "another client": "the authorization code was issued to another client",
    "used": "the authorization code was already used; the tokens it issued are revoked",
    "expired": "the authorization code has expired",
    "redirect_uri": "redirect_uri does not match the authorization request",
    "malformed verifier": "code_verifier must be 43 to 128 unreserved characters",
    "wrong verifier": "code_verifier does not match the code_challenge",
    "other resource": "the resource differs from the authorization request's",
    "resource not allowed": "the requested audience is not allowed for this client",
    "user disabled": "the user is disabled",
    "session ended": "the login session has ended",
}


async def exchange_with(flow: Any, code: str, verifier: str, faults: tuple[str, ...]) -> Any:
    """Exchange `code` (issued for API) with `faults`; the response."""
    extra: dict[str, str] = {"resource": API}
    client_id = "spa"
    for fault in faults:
        if fault == "unknown":
            code = "not-a-code"
        elif fault == "another client":
            client_id = "other"
        elif fault == "used":
            assert (await flow.exchange(code, verifier, resource=API)).status_code == 200
        elif fault == "expired":
            flow.clock.advance(60)
        elif fault == "redirect_uri":
            extra["redirect_uri"] = REDIRECT_URI + "/"
        elif fault == "malformed verifier":
            verifier = "short"
        elif fault == "wrong verifier":
            verifier = "x" * 43
        elif fault == "other resource":
            extra["resource"] = "https://other.example.com"
        elif fault == "resource not allowed":
            extra["resource"] = "https://evil.example.com"
        elif fault == "user disabled":
            async with flow.database.session() as session:
                await users.set_disabled(session, flow.user_id, True)
        elif fault == "session ended":
            await end_browser_session(flow.runtime.server, flow.browser, now=flow.clock())
    return await flow.exchange(code, verifier, client_id=client_id, **extra)


@pytest.mark.parametrize(
    "faults",
    [
        ("unknown", "malformed verifier"),
        ("unknown", "resource not allowed"),
        ("another client", "wrong verifier"),
        ("used", "redirect_uri"),
        ("expired", "redirect_uri", "malformed verifier"),
        ("redirect_uri", "malformed verifier"),
        ("malformed verifier", "resource not allowed"),
        ("wrong verifier", "other resource"),
        ("other resource", "user disabled"),
        ("resource not allowed", "session ended"),
        ("user disabled", "session ended"),
        ("session ended",),
    ],
    ids=" + ".join,
)
async def test_of_several_faults_the_first_checked_is_answered(
    settings: Settings, database: Database, faults: tuple[str, ...]
) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "other")
        code, verifier = await flow.code(resource=API)
        refused = await exchange_with(flow, code, verifier, faults)
        error = "invalid_grant"
        if faults[0] == "malformed verifier":
            error = "invalid_request"
        elif "resource" in faults[0]:
            error = "invalid_target"
        assert error_of(refused) == (400, error)
        assert refused.json()["error_description"] == FAULTS[faults[0]]


@pytest.mark.parametrize(
    "fault",
    [
        "another client",
        "redirect_uri",
        "malformed verifier",
        "wrong verifier",
        "other resource",
        "resource not allowed",
        "user disabled",
    ],
)
async def test_a_refused_exchange_leaves_the_code_for_its_real_one(
    settings: Settings, database: Database, fault: str
) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "other")
        code, verifier = await flow.code(resource=API)
        refused = await exchange_with(flow, code, verifier, (fault,))
        assert refused.json()["error_description"] == FAULTS[fault]
        async with database.session() as session:
            await users.set_disabled(session, flow.user_id, False)
        good = await flow.exchange(code, verifier)
        assert good.status_code == 200, good.text
        assert decode(good.json()["access_token"], await flow.jwks(), audience=API)


async def test_without_an_id_token_key_a_login_fails_before_the_code_is_used(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with code_flow(settings, database) as flow:
        await add_login_client(database, flow.clock(), "ed", id_token_alg="EdDSA")
        login, login_verifier = await flow.code("ed", scope="openid")
        plain, plain_verifier = await flow.code("ed", scope="read")
        with monkeypatch.context() as patch:
            patch.delitem(flow.runtime.keys.ring.active, "EdDSA")
            refused = await flow.exchange(login, login_verifier, client_id="ed")
            assert error_of(refused) == (503, "temporarily_unavailable")
            unused = await authorization_codes.find(
                database, authorization_codes.code_digest(login)
            )
            assert unused is not None and unused.used_at is None
            # Without openid no ID token is signed: the missing key does not matter.
            assert (await flow.exchange(plain, plain_verifier, client_id="ed")).status_code == 200
            # The checks still come first.
            wrong = await flow.exchange(login, "x" * 43, client_id="ed")
            assert error_of(wrong) == (400, "invalid_grant")
        once_the_key_is_back = await flow.exchange(login, login_verifier, client_id="ed")
        assert once_the_key_is_back.status_code == 200, once_the_key_is_back.text
        assert "id_token" in once_the_key_is_back.json()
