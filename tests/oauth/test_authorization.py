"""The authorization endpoint's rules and RP-Initiated Logout as functions, on both
databases (`issuer.oauth.authorization`); the pages put HTML and cookies around them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from issuer.oauth.authorization import (
    AuthorizationPageError,
    AuthorizationRedirectError,
    AuthorizationRequest,
    ConsentNeeded,
    LoginNeeded,
    Redirect,
    decide,
    deny,
    end_browser_session,
    issue_code,
    logout,
    remember_consent,
    validate,
)
from issuer.oauth.server import AuthorizationServer
from issuer.settings import Settings
from issuer.store import authorization_codes, browser_sessions, clients, families
from issuer.store.database import Database
from tests.oauth.login_support import (
    POST_LOGOUT_URI,
    REDIRECT_URI,
    add_login_client,
    authorize_params,
    new_verifier,
    query_of,
    start_session,
    started_runtime,
)
from tests.oauth.support import API, MovableClock, add_user, family_is_live

ISSUER = "http://127.0.0.1:8000"


@dataclass
class Env:
    server: AuthorizationServer
    database: Database
    clock: MovableClock
    user_id: str
    challenge: str

    def params(self, client_id: str = "spa", **extra: str) -> dict[str, str]:
        return authorize_params(client_id, challenge=self.challenge, **extra)

    async def validate(self, **extra: str) -> AuthorizationRequest:
        return await validate(self.server, self.params(**extra))


@pytest.fixture
async def env(settings: Settings, database: Database) -> AsyncIterator[Env]:
    clock = MovableClock()
    async with started_runtime(settings, clock) as runtime:
        user_id = await add_user(database, runtime)
        await add_login_client(database, clock(), name="The SPA")
        yield Env(runtime.server, database, clock, user_id, new_verifier()[1])


# -- validate ------------------------------------------------------------------------------


def changed(params: dict[str, str], change: dict[str, Any]) -> dict[str, Any]:
    """`params` with some values replaced (a list: sent that many times), None: left out."""
    result: dict[str, Any] = {**params, **change}
    return {name: value for name, value in result.items() if value is not None}


async def test_a_valid_request(env: Env) -> None:
    request = await env.validate(prompt="login", max_age="0", login_hint="ada@example.com")
    assert request == AuthorizationRequest(
        client_id="spa",
        redirect_uri=REDIRECT_URI,
        scope=("openid", "email", "read"),
        state="st-1",
        nonce="n-1",
        code_challenge=env.challenge,
        prompt=frozenset({"login"}),
        max_age=0,
        login_hint="ada@example.com",
        resource=None,
    )
    # The pages seal the parameters and validate them again on submit: the same request.
    assert await AuthorizationRequest.from_params(env.server, request.to_params()) == request


async def test_no_scope_asked_is_the_clients_registered_scope(env: Env) -> None:
    params = env.params()
    del params["scope"]
    assert (await validate(env.server, params)).scope == ("read", "write")


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"client_id": None}, "client_id is missing"),
        ({"client_id": "nobody"}, "unknown client"),
        ({"client_id": "x" * 500}, "unknown client"),
        ({"redirect_uri": None}, "redirect_uri is missing"),
        ({"redirect_uri": REDIRECT_URI + "/"}, "not registered"),
        ({"redirect_uri": "https://evil.example.com/callback"}, "not registered"),
        ({"redirect_uri": REDIRECT_URI.upper()}, "not registered"),
        ({"client_id": ["spa", "spa"]}, "client_id is included more than once"),
        ({"redirect_uri": [REDIRECT_URI, REDIRECT_URI]}, "more than once"),
        ({"nonce": "a\0b"}, "NUL"),
    ],
)
async def test_client_and_redirect_uri_errors_are_pages_never_redirects(
    env: Env, change: dict[str, Any], description: str
) -> None:
    params = changed(env.params(), change)
    with pytest.raises(AuthorizationPageError, match=description) as caught:
        await validate(env.server, params)
    assert caught.value.error == "invalid_request"


async def test_a_disabled_client_is_a_page(env: Env) -> None:
    async with env.database.session() as session:
        await clients.change(session, "spa", disabled=True)
    env.server.clients.forget("spa")
    with pytest.raises(AuthorizationPageError, match="unknown client"):
        await env.validate()


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"response_type": None}, "invalid_request", "response_type is missing"),
        ({"response_type": "token"}, "unsupported_response_type", "response_type=code"),
        ({"response_type": "code id_token"}, "unsupported_response_type", "code"),
        ({"response_mode": "fragment"}, "invalid_request", "response_mode"),
        ({"code_challenge": None}, "invalid_request", "code_challenge is required"),
        ({"code_challenge_method": None}, "invalid_request", "must be S256"),
        ({"code_challenge_method": "plain"}, "invalid_request", "must be S256"),
        ({"code_challenge": "short"}, "invalid_request", "not a S256 challenge"),
        ({"scope": "openid admin"}, "invalid_scope", "admin"),
        ({"scope": "openid issuer:admin"}, "invalid_scope", "issuer:admin"),
        ({"scope": ["openid", "read"]}, "invalid_request", "scope is included more than once"),
        ({"prompt": "create"}, "invalid_request", "unsupported prompt"),
        ({"prompt": "none select_account"}, "invalid_request", "prompt=none"),
        ({"prompt": "none login"}, "invalid_request", "prompt=none"),
        ({"max_age": "-1"}, "invalid_request", "max_age"),
        ({"max_age": "ten"}, "invalid_request", "max_age"),
        ({"max_age": "1" * 12}, "invalid_request", "max_age"),
        ({"resource": "https://evil.example.com"}, "invalid_target", "not allowed"),
        ({"resource": [API, "https://other.example.com"]}, "invalid_target", "one resource"),
        ({"request": "eyJ..."}, "request_not_supported", "request objects"),
        ({"request_uri": "https://x"}, "request_uri_not_supported", "request_uri"),
        ({"nonce": "n" * 513}, "invalid_request", "nonce is too long"),
    ],
)
async def test_every_other_error_goes_back_to_the_client_with_state_and_iss(
    env: Env, change: dict[str, Any], error: str, description: str
) -> None:
    params = changed(env.params(), change)
    with pytest.raises(AuthorizationRedirectError, match=description) as caught:
        await validate(env.server, params)
    assert caught.value.error == error
    location = caught.value.location(ISSUER)
    assert location.startswith(REDIRECT_URI + "?")
    assert query_of(location) == {
        "error": error,
        "error_description": caught.value.description,
        "state": "st-1",
        "iss": ISSUER,
    }


@pytest.mark.parametrize(
    ("state", "description"),
    [(["a", "b"], "state is included more than once"), ("s" * 2049, "state is too long")],
)
async def test_a_repeated_or_oversized_state_is_refused_without_echoing_it(
    env: Env, state: Any, description: str
) -> None:
    params: dict[str, Any] = {**env.params(), "state": state}
    with pytest.raises(AuthorizationRedirectError, match=description) as caught:
        await validate(env.server, params)
    assert caught.value.state is None
    assert "state" not in query_of(caught.value.location(ISSUER))


async def test_select_account_is_accepted(env: Env) -> None:
    assert (await env.validate(prompt="select_account")).prompt == {"select_account"}


async def test_a_client_without_the_code_grant_is_unauthorized(env: Env) -> None:
    await add_login_client(env.database, env.clock(), "svc", grant_types=("client_credentials",))
    with pytest.raises(AuthorizationRedirectError) as caught:
        await validate(env.server, env.params("svc"))
    assert caught.value.error == "unauthorized_client"


async def test_a_resource_the_client_may_have_is_kept(env: Env) -> None:
    assert (await env.validate(resource=API)).resource == API


# -- decide, issue_code, consent, deny -----------------------------------------------------


async def test_no_session_needs_a_login_and_prompt_none_says_login_required(env: Env) -> None:
    assert await decide(env.server, await env.validate(), None, now=env.clock()) == LoginNeeded()
    decision = await decide(env.server, await env.validate(prompt="none"), None, now=env.clock())
    assert isinstance(decision, Redirect)
    assert query_of(decision.location) == {
        "error": "login_required",
        "error_description": "the user is not logged in",
        "state": "st-1",
        "iss": ISSUER,
    }


async def test_a_session_gets_a_code_bound_to_the_request(env: Env) -> None:
    _, browser = await start_session(env.database, env.user_id, env.clock())
    env.clock.advance(30)
    request = await env.validate(resource=API)
    decision = await decide(env.server, request, browser, now=env.clock())
    assert isinstance(decision, Redirect)
    assert decision.location.startswith(REDIRECT_URI + "?code=")
    query = query_of(decision.location)
    assert set(query) == {"code", "state", "iss"}
    assert (query["state"], query["iss"]) == ("st-1", ISSUER)
    assert len(query["code"]) == 43  # 256 bits
    stored = await authorization_codes.find(
        env.database, authorization_codes.code_digest(query["code"])
    )
    assert stored is not None
    assert (stored.client_id, stored.user_id, stored.session_id) == ("spa", env.user_id, browser.id)
    assert (stored.redirect_uri, stored.code_challenge) == (REDIRECT_URI, env.challenge)
    assert (stored.nonce, stored.scope, stored.resource) == ("n-1", "openid email read", API)
    assert stored.auth_time == browser.auth_time  # the login's time, not the code's
    assert stored.expires_at == env.clock() + timedelta(seconds=60)
    assert stored.used_at is None


async def test_a_redirect_uri_keeps_its_own_query(env: Env) -> None:
    with_query = "https://app.example.com/cb?tenant=a"
    await add_login_client(env.database, env.clock(), "tenant", redirect_uris=(with_query,))
    _, browser = await start_session(env.database, env.user_id, env.clock())
    request = await validate(env.server, env.params("tenant", redirect_uri=with_query))
    location = await issue_code(env.server, request, browser.id, now=env.clock())
    assert location is not None and location.startswith(with_query + "&code=")
    assert query_of(location)["tenant"] == "a"


async def test_prompt_login_asks_again_until_the_user_has_just_logged_in(env: Env) -> None:
    _, browser = await start_session(env.database, env.user_id, env.clock())
    request = await env.validate(prompt="login")
    assert await decide(env.server, request, browser, now=env.clock()) == LoginNeeded()
    after_login = await decide(env.server, request, browser, now=env.clock(), fresh_login=True)
    assert isinstance(after_login, Redirect) and "code" in query_of(after_login.location)


async def test_max_age_passed_needs_a_login(env: Env) -> None:
    _, browser = await start_session(env.database, env.user_id, env.clock())
    env.clock.advance(100)
    old = await env.validate(max_age="60")
    assert await decide(env.server, old, browser, now=env.clock()) == LoginNeeded()
    silent = await env.validate(max_age="60", prompt="none")
    decision = await decide(env.server, silent, browser, now=env.clock())
    assert isinstance(decision, Redirect)
    assert query_of(decision.location)["error"] == "login_required"
    recent = await env.validate(max_age="100")
    assert isinstance(await decide(env.server, recent, browser, now=env.clock()), Redirect)


async def test_a_third_party_client_asks_for_consent_once_per_scope(env: Env) -> None:
    await add_login_client(env.database, env.clock(), "crm", consent_required=True)
    _, browser = await start_session(env.database, env.user_id, env.clock())
    request = await validate(env.server, env.params("crm", scope="openid read"))
    decision = await decide(env.server, request, browser, now=env.clock())
    # No name registered: the pages show the client id.
    assert decision == ConsentNeeded(scopes=("openid", "read"), client_name="crm")
    silent = await validate(env.server, env.params("crm", scope="openid read", prompt="none"))
    refused = await decide(env.server, silent, browser, now=env.clock())
    assert isinstance(refused, Redirect)
    assert query_of(refused.location)["error"] == "consent_required"

    await remember_consent(env.server, request, env.user_id)
    again = await decide(env.server, request, browser, now=env.clock())
    assert isinstance(again, Redirect) and "code" in query_of(again.location)
    assert isinstance(await decide(env.server, silent, browser, now=env.clock()), Redirect)
    more = await validate(env.server, env.params("crm", scope="openid read write"))
    assert await decide(env.server, more, browser, now=env.clock()) == ConsentNeeded(
        scopes=("write",), client_name="crm"
    )


async def test_prompt_consent_asks_even_a_first_party_client(env: Env) -> None:
    _, browser = await start_session(env.database, env.user_id, env.clock())
    request = await env.validate(prompt="consent")
    assert await decide(env.server, request, browser, now=env.clock()) == ConsentNeeded(
        scopes=("openid", "email", "read"), client_name="The SPA"
    )


async def test_deny_sends_access_denied_back(env: Env) -> None:
    location = await deny(env.server, await env.validate())
    assert query_of(location) == {
        "error": "access_denied",
        "error_description": "the user denied the request",
        "state": "st-1",
        "iss": ISSUER,
    }


# -- logout --------------------------------------------------------------------------------


def id_token(env: Env, *, sub: str | None = None, **claims: Any) -> str:
    """An ID token as the token endpoint signs it (typ JWT), expired an hour ago."""
    now = int(env.clock().timestamp())
    payload = {
        "iss": ISSUER,
        "sub": sub or env.user_id,
        "aud": "spa",
        "iat": now - 7200,
        "exp": now - 3600,
        "sid": secrets.token_hex(8),
        **claims,
    }
    return env.server.ring().sign(payload, typ="JWT", alg="RS256")


async def test_logout_with_a_hint_of_the_sessions_user_needs_no_confirmation(env: Env) -> None:
    _, browser = await start_session(env.database, env.user_id, env.clock())
    outcome = await logout(
        env.server,
        {
            "id_token_hint": id_token(env),  # expired: still a good hint
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye-1",
        },
        browser,
        now=env.clock(),
    )
    assert not outcome.confirm_needed
    assert outcome.location == POST_LOGOUT_URI + "?state=bye-1"
    assert outcome.client_name == "The SPA"


async def test_logout_without_a_hint_or_for_another_user_asks_to_confirm(env: Env) -> None:
    _, browser = await start_session(env.database, env.user_id, env.clock())
    plain = await logout(env.server, {}, browser, now=env.clock())
    assert (plain.confirm_needed, plain.location, plain.client_name) == (True, None, None)
    hint = id_token(env, sub="u-x")
    other = await logout(env.server, {"id_token_hint": hint}, browser, now=env.clock())
    assert other.confirm_needed
    by_client = await logout(
        env.server,
        {"client_id": "spa", "post_logout_redirect_uri": POST_LOGOUT_URI},
        browser,
        now=env.clock(),
    )
    assert by_client.confirm_needed and by_client.location == POST_LOGOUT_URI
    nothing = await logout(env.server, {}, None, now=env.clock())
    assert not nothing.confirm_needed


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"id_token_hint": "garbage"}, "not an ID token of this issuer"),
        ({"id_token_hint": "wrong-iss"}, "not an ID token of this issuer"),
        ({"id_token_hint": "access-token"}, "not an ID token of this issuer"),
        ({"id_token_hint": "hint", "client_id": "crm"}, "does not match"),
        ({"post_logout_redirect_uri": POST_LOGOUT_URI}, "needs id_token_hint or client_id"),
        (
            {"client_id": "spa", "post_logout_redirect_uri": "https://evil.example.com/"},
            "not registered",
        ),
        ({"client_id": "spa", "post_logout_redirect_uri": REDIRECT_URI}, "not registered"),
        ({"client_id": "nobody"}, "unknown client"),
        ({"state": ["a", "b"]}, "more than once"),
    ],
)
async def test_logout_errors_are_pages(env: Env, params: dict[str, Any], description: str) -> None:
    tokens = {
        "wrong-iss": id_token(env, iss="https://other.example.com"),
        "access-token": env.server.ring().sign(
            {"iss": ISSUER, "sub": env.user_id, "aud": "spa"}, typ="at+jwt", alg="RS256"
        ),
        "hint": id_token(env),
    }
    if "id_token_hint" in params:
        params = {**params, "id_token_hint": tokens.get(params["id_token_hint"], "garbage")}
    with pytest.raises(AuthorizationPageError, match=description):
        await logout(env.server, params, None, now=env.clock())


async def test_ending_the_browser_session_revokes_its_families(env: Env) -> None:
    cookie, browser = await start_session(env.database, env.user_id, env.clock())
    now = env.clock()
    async with env.database.session() as session:
        await families.add_login(
            session,
            family_id="fam",
            user_id=env.user_id,
            client_id="spa",
            scope="openid",
            audience=API,
            now=now,
            family_expires_at=now + timedelta(days=1),
            jti="t1",
            expires_at=now + timedelta(days=1),
            session_id=browser.id,
        )
    assert await end_browser_session(env.server, browser, now=now) == 1
    assert await browser_sessions.find(env.database, cookie, now=now) is None
    async with env.database.session() as session:
        assert not await family_is_live(session, "fam", now=now)
