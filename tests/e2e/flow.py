"""What a relying party does around the browser: PKCE, the authorization URL, the loopback
redirect URI that receives the code, the token exchange and the ID token checks.

Kept apart from the browser so the browser tests, the Authlib test and the example-app test
share one description of the registered clients and the signed-in user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Page

from tests.live import LiveIssuer
from tests.test_serve import free_port

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"  # meets the password policy
EMAIL_LABEL = re.compile(r"e-?mail", re.IGNORECASE)
PASSWORD_LABEL = re.compile(r"password", re.IGNORECASE)
ALLOW = re.compile(r"allow|accept|continue", re.IGNORECASE)


@dataclass
class Loopback:
    """A real HTTP listener on 127.0.0.1 that records what each redirect delivered."""

    url: str
    received: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @classmethod
    @contextmanager
    def listening(cls) -> Iterator[Loopback]:
        port = free_port()
        listener = cls(url=f"http://127.0.0.1:{port}")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                listener.received.append((parts.path, query))
                # (an inline icon: no /favicon.ico request among the recorded ones)
                body = (
                    b'<!doctype html><html lang=en><link rel=icon href="data:,">'
                    b"<title>Relying party</title><p>received</p>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield listener
        finally:
            server.shutdown()
            server.server_close()

    def last(self, path: str) -> dict[str, str]:
        """The query of the last request the listener got on `path`."""
        hits = [query for got, query in self.received if got == path]
        assert hits, f"nothing arrived at {self.url}{path}; got {self.received}"
        return hits[-1]


@dataclass(frozen=True)
class Client:
    """A code-flow client as the relying party knows it (its secret once registered)."""

    client_id: str
    name: str
    redirect_uri: str
    post_logout_redirect_uri: str
    public: bool = True  # token_endpoint_auth_method none; else client_secret_basic
    consent: bool = False
    audience: str | None = None
    secret: str | None = None

    def create_command(self) -> list[str]:
        """`issuer clients create …` for this client, as an operator would type it."""
        command = ["clients", "create", self.client_id, "--name", self.name, "--json"]
        command += ["--redirect-uri", self.redirect_uri]
        command += ["--post-logout-redirect-uri", self.post_logout_redirect_uri]
        if self.public:
            command.append("--public")  # its grants default to authorization_code + refresh_token
        else:
            command += ["--grant-type", "authorization_code", "--grant-type", "refresh_token"]
        if self.consent:
            command.append("--consent")
        if self.audience is not None:
            command += ["--audience", self.audience]
        return command


@dataclass(frozen=True)
class Authorization:
    """One authorization request as the relying party remembers it."""

    client: Client
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class World:
    issuer: LiveIssuer
    loopback: Loopback
    metadata: dict[str, Any]
    first: Client  # public, asks for consent
    second: Client  # confidential, first-party (no consent)

    def authorize(
        self, client: Client, *, scope: str = "openid email", **extra: str
    ) -> Authorization:
        verifier = secrets.token_urlsafe(48)
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        url = f"{self.metadata['authorization_endpoint']}?{urlencode(params)}"
        return Authorization(client, url, state, nonce, verifier)

    def code(self, authorization: Authorization) -> str:
        """The code the loopback redirect URI got for `authorization`, its state and iss checked."""
        query = self.loopback.last(urlsplit(authorization.client.redirect_uri).path)
        assert "error" not in query, query
        assert query["state"] == authorization.state
        assert query["iss"] == self.issuer.url  # RFC 9207
        return query["code"]

    def exchange(self, authorization: Authorization, code: str) -> dict[str, Any]:
        client = authorization.client
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": authorization.code_verifier,
        }
        auth = None
        if client.secret is None:
            form["client_id"] = client.client_id
        else:
            auth = (client.client_id, client.secret)
        response = httpx.post(self.metadata["token_endpoint"], data=form, auth=auth, timeout=10)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def id_token_claims(
        self, authorization: Authorization, tokens: dict[str, Any]
    ) -> dict[str, Any]:
        """The ID token verified against the JWKS, with every check an RP makes."""
        jwks = httpx.get(self.metadata["jwks_uri"], timeout=10).json()
        token = jwt.decode(tokens["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
        assert token.header["typ"] == "JWT"
        claims: dict[str, Any] = token.claims
        assert claims["iss"] == self.issuer.url
        assert claims["aud"] in (authorization.client.client_id, [authorization.client.client_id])
        assert claims["nonce"] == authorization.nonce
        assert claims["iat"] - 5 <= time.time() < claims["exp"]
        assert claims["at_hash"] == at_hash(tokens["access_token"])
        assert {"sub", "auth_time", "sid"} <= claims.keys()
        return claims


def s256(verifier: str) -> str:
    """RFC 7636 §4.2, computed here rather than by issuer.oauth.pkce: the relying party's side
    of the check must not be the issuer's own code."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: the left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def register(issuer: LiveIssuer, *clients: Client) -> list[Client]:
    """The user and `clients`, registered through the CLI (in one process: each start of
    the CLI costs seconds on a loaded machine); the clients come back with their secrets."""
    user = (["users", "create", EMAIL, "--password-stdin"], PASSWORD)
    outputs = issuer.cli_many(user, *((client.create_command(), None) for client in clients))
    return [
        replace(client, secret=None if client.public else json.loads(output)["client_secret"])
        for client, output in zip(clients, outputs[1:], strict=True)
    ]


def make_world(issuer: LiveIssuer, loopback: Loopback) -> World:
    """The user, a public client asking for consent, a first-party confidential client."""
    first, second = register(
        issuer,
        Client(
            "app-one", "App One", f"{loopback.url}/one/callback",
            f"{loopback.url}/one/logged-out", consent=True,
        ),
        Client(
            "app-two", "App Two", f"{loopback.url}/two/callback",
            f"{loopback.url}/two/logged-out", public=False,
        ),
    )  # fmt: skip
    metadata = httpx.get(f"{issuer.url}/.well-known/openid-configuration", timeout=10).json()
    return World(issuer, loopback, metadata, first, second)


def at(url: str) -> re.Pattern[str]:
    """`url` itself, with or without a query: for `page.wait_for_url` and `to_have_url`."""
    return re.compile(rf"^{re.escape(url)}(\?.*)?$")


def sign_in(page: Page, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Fills the hosted login form by its labels, as a person reading it would."""
    page.get_by_label(EMAIL_LABEL).fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name=re.compile(r"sign in|log in", re.IGNORECASE)).click()
