"""Helpers for the login (authorization code) tests: clients with redirect URIs, browser
sessions, and `code_for`, a code and its PKCE verifier made without any HTML.

`code_for` and the other server-side helpers run on the caller's event loop: use them with
`started_runtime` below, `serving_in_loop` (tests/oauth/support.py), or any runtime started
on the test's loop.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from issuer.clock import Clock, utcnow
from issuer.oauth import pkce
from issuer.oauth.authorization import issue_code, validate
from issuer.oauth.server import AuthorizationServer
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import browser_sessions
from issuer.store.browser_sessions import BrowserSession
from issuer.store.database import Database
from issuer.store.models import Client
from tests.oauth.support import (
    API,
    InLoopClient,
    MovableClock,
    add_user,
    post_form,
    serving_in_loop,
)

ISSUER = "http://127.0.0.1:8000"
REDIRECT_URI = "https://app.example.com/callback"
POST_LOGOUT_URI = "https://app.example.com/bye"
SESSION_LIFETIME = 86_400


@asynccontextmanager
async def started_runtime(settings: Settings, clock: Clock = utcnow) -> AsyncIterator[Runtime]:
    """A runtime on the caller's loop with its keys loaded and no background jobs: for
    calling the protocol core (`runtime.server`) directly, without HTTP."""
    runtime = Runtime(settings, clock)
    await runtime.keys.start()
    try:
        yield runtime
    finally:
        await runtime.close()


async def add_login_client(
    database: Database,
    now: datetime,
    client_id: str = "spa",
    *,
    public: bool = True,
    grant_types: Sequence[str] = ("authorization_code", "refresh_token"),
    scopes: Sequence[str] = ("read", "write"),
    audiences: Sequence[str] = (API, "https://other.example.com"),
    redirect_uris: Sequence[str] = (REDIRECT_URI,),
    post_logout_redirect_uris: Sequence[str] = (POST_LOGOUT_URI,),
    consent_required: bool = False,
    id_token_alg: str = "RS256",
    name: str | None = None,
) -> None:
    """A client of the code flow, stored as a row (a public one by default)."""
    async with database.session() as session:
        session.add(
            Client(
                client_id=client_id,
                public=public,
                grant_types=list(grant_types),
                scopes=list(scopes),
                audiences=list(audiences),
                redirect_uris=list(redirect_uris),
                post_logout_redirect_uris=list(post_logout_redirect_uris),
                consent_required=consent_required,
                id_token_alg=id_token_alg,
                name=name,
                created_at=now,
            )
        )


async def start_session(
    database: Database, user_id: str, now: datetime, *, lifetime: int = SESSION_LIFETIME
) -> tuple[str, BrowserSession]:
    """A browser session of `user_id` that started `now`: its cookie value and the session."""
    async with database.session() as session:
        return await browser_sessions.start(session, user_id=user_id, now=now, lifetime=lifetime)


def new_verifier() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce.challenge_of(verifier)


def authorize_params(
    client_id: str = "spa",
    *,
    challenge: str,
    redirect_uri: str = REDIRECT_URI,
    scope: str = "openid email read",
    **extra: str,
) -> dict[str, str]:
    """An authorization request's parameters, as a client sends them."""
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect location (each sent once)."""
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def code_for(
    runtime_or_server: Runtime | AuthorizationServer,
    client_id: str,
    user_id: str,
    *,
    browser_session: BrowserSession | None = None,
    redirect_uri: str = REDIRECT_URI,
    scope: str = "openid email read",
    **extra: str,
) -> tuple[str, str]:
    """A code for `user_id` at `client_id` (validated as the endpoint would) and its PKCE
    verifier, without HTML; a browser session is started unless one is given."""
    server = (
        runtime_or_server.server if isinstance(runtime_or_server, Runtime) else runtime_or_server
    )
    now = server.clock()
    if browser_session is None:
        _, browser_session = await start_session(server.database, user_id, now)
    verifier, challenge = new_verifier()
    request = await validate(
        server,
        authorize_params(
            client_id, challenge=challenge, redirect_uri=redirect_uri, scope=scope, **extra
        ),
    )
    location = await issue_code(server, request, browser_session.id, now=now)
    assert location is not None, "the browser session is not live"
    return query_of(location)["code"], verifier


@dataclass
class Flow:
    """An app on the test's loop (`code_flow`), its user with a browser session, and the
    token-endpoint steps of the code flow over HTTP."""

    http: InLoopClient
    runtime: Runtime
    database: Database
    clock: MovableClock
    user_id: str
    browser: BrowserSession

    async def code(self, client_id: str = "spa", **extra: str) -> tuple[str, str]:
        return await code_for(
            self.runtime, client_id, self.user_id, browser_session=self.browser, **extra
        )

    async def exchange(
        self,
        code: str,
        verifier: str,
        *,
        client_id: str = "spa",
        secret: str | None = None,
        **extra: str,
    ) -> Any:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            **extra,
        }
        if secret is None:
            return await post_form(self.http, "/oauth/token", {**data, "client_id": client_id})
        return await post_form(self.http, "/oauth/token", data, auth=(client_id, secret))

    async def refresh(self, refresh_token: str, client_id: str = "spa") -> Any:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await post_form(self.http, "/oauth/token", {**data, "client_id": client_id})

    async def jwks(self) -> dict[str, Any]:
        return json.loads((await self.http.get("/.well-known/jwks.json")).content)

    async def userinfo(self, access_token: str) -> Any:
        return await self.http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


@asynccontextmanager
async def code_flow(settings: Settings, database: Database) -> AsyncIterator[Flow]:
    """The app on the test's loop; ada, the public client "spa", and ada's browser session
    (started 100 s before the clock's now)."""
    clock = MovableClock()
    async with serving_in_loop(settings, clock) as (http, runtime):
        user_id = await add_user(database, runtime)
        await add_login_client(database, clock())
        _, browser = await start_session(database, user_id, clock() - timedelta(seconds=100))
        yield Flow(http, runtime, database, clock, user_id, browser)
