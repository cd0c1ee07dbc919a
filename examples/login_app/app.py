"""An example web app whose users log in through the issuer (OpenID Connect, authorization
code + PKCE, configured by discovery alone) with Authlib's client; it shows the signed-in
user's ID token claims and calls the example resource service with the access token.

Run (see README.md beside this file for the whole walkthrough):
    ISSUER_URL=http://127.0.0.1:8000 uvicorn examples.login_app.app:app --port 9100

Settings, from the environment:
    ISSUER_URL          the issuer (default http://127.0.0.1:8000)
    LOGIN_APP_URL       where this app is reached (default http://127.0.0.1:9100); its
                        redirect URI is LOGIN_APP_URL/callback, its post-logout one LOGIN_APP_URL/
    LOGIN_APP_CLIENT_ID the client registered at the issuer (default login-app)
    LOGIN_APP_CLIENT_SECRET  for a confidential client; unset: a public client
    RESOURCE_URL        the example resource service (default http://127.0.0.1:9000)
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from joserfc.errors import JoseError
from litestar import Litestar, Request, Response, get, post
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.response import Redirect

from examples.login_app.oauth import LitestarOAuth2App, register_issuer

SCOPE = "openid email"


@dataclass(frozen=True)
class Config:
    issuer_url: str
    app_url: str
    client_id: str
    client_secret: str | None
    resource_url: str

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            issuer_url=os.environ.get("ISSUER_URL", "http://127.0.0.1:8000"),
            app_url=os.environ.get("LOGIN_APP_URL", "http://127.0.0.1:9100").rstrip("/"),
            client_id=os.environ.get("LOGIN_APP_CLIENT_ID", "login-app"),
            client_secret=os.environ.get("LOGIN_APP_CLIENT_SECRET") or None,
            resource_url=os.environ.get("RESOURCE_URL", "http://127.0.0.1:9000").rstrip("/"),
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.app_url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.app_url}/"


def page(title: str, body: str, status_code: int = 200) -> Response[str]:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(document, media_type="text/html", status_code=status_code)


def failed(reason: str) -> Response[str]:
    return page("Sign-in failed", f'<p>{html.escape(reason)}</p><p><a href="/">Back</a></p>', 400)


def create_app(config: Config | None = None) -> Litestar:
    config = config or Config.from_env()
    client: LitestarOAuth2App = register_issuer(
        config.issuer_url, config.client_id, config.client_secret, scope=SCOPE
    )
    # Authlib's per-request state (`_state_issuer_<state>` keys) kept in this app's session.
    framework = client.framework

    @get("/")
    async def home(request: Request[Any, Any, Any]) -> Response[str]:
        user = request.session.get("user")
        if not user:
            return page(
                "Example login app",
                '<p>You are not signed in.</p><p><a href="/login">Sign in with the issuer</a></p>',
            )
        async with httpx.AsyncClient(timeout=10) as http:
            resource = await http.get(
                f"{config.resource_url}/me",
                headers={"Authorization": f"Bearer {user['access_token']}"},
            )
        claims = json.dumps(user["claims"], indent=2, sort_keys=True)
        answer = json.dumps(resource.json(), indent=2, sort_keys=True)
        return page(
            "Example login app",
            f"<p>Signed in as <strong>{html.escape(str(user['claims'].get('email')))}</strong>."
            f'</p><h2>ID token claims</h2><pre id="claims">{html.escape(claims)}</pre>'
            f"<h2>The resource service's <code>/me</code> ({resource.status_code})</h2>"
            f'<pre id="resource">{html.escape(answer)}</pre>'
            '<form method="post" action="/logout"><button type="submit">Sign out</button></form>',
        )

    @get("/login")
    async def login(request: Request[Any, Any, Any]) -> Redirect:
        """To the issuer's authorization endpoint (found by discovery), PKCE S256 and a nonce."""
        authorization = await client.create_authorization_url(config.redirect_uri)
        framework.set_state_data(
            request.session,
            authorization["state"],
            {
                "code_verifier": authorization["code_verifier"],
                "nonce": authorization["nonce"],
            },
        )
        return Redirect(authorization["url"])

    @get("/callback")
    async def callback(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
        """The code back from the issuer: exchanged, and the ID token validated by Authlib."""
        query = request.query_params
        if "error" in query:
            return failed(f"{query['error']}: {query.get('error_description') or ''}")
        state, code = query.get("state") or "", query.get("code")
        pending = framework.get_state_data(request.session, state)
        if not pending or not code:
            return failed("an unknown, reused or incomplete answer (state, code)")
        framework.clear_state_data(request.session, state)
        # iss on the response (RFC 9207) must be the issuer the request went to.
        metadata = await client.load_server_metadata()
        if query.get("iss") != metadata["issuer"]:
            return failed("the answer's iss is not our issuer")
        try:
            token = await client.fetch_access_token(
                config.redirect_uri, code=code, code_verifier=pending["code_verifier"]
            )
            claims = await client.parse_id_token(token, nonce=pending["nonce"])
        except (OAuthError, JoseError) as exc:
            return failed(f"the code exchange or the ID token was refused: {exc}")
        request.session["user"] = {
            "claims": dict(claims),
            "access_token": token["access_token"],
            "id_token": token["id_token"],
        }
        return Redirect("/")

    @post("/logout", status_code=303)
    async def logout(request: Request[Any, Any, Any]) -> Redirect:
        """Forgets the user here, then RP-initiated logout at the issuer (ends its session)."""
        user = request.session.get("user")
        request.clear_session()
        if not user:
            return Redirect("/", status_code=303)
        end = await client.create_logout_url(
            post_logout_redirect_uri=config.post_logout_redirect_uri,
            id_token_hint=user["id_token"],
        )
        return Redirect(end["url"], status_code=303)

    sessions = ServerSideSessionConfig(key="login_app_session", samesite="lax")
    return Litestar([home, login, callback, logout], middleware=[sessions.middleware])


def __getattr__(name: str) -> Litestar:
    # `app` is built on first access, so importing this module reads no environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
