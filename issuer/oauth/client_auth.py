"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3).

`client_secret_basic` (§2.3.1, the id and secret form-encoded inside HTTP Basic),
`client_secret_post` (§2.3.1, in the body) and `none` for public clients (`client_id` only).
Client rows (and unknown ids) are cached per process for a few seconds (client_credentials is a
hot path), so a disabled client stops being accepted within `ttl` seconds; a change made
through this process's admin API is `forget`-ten at once. After a secret rotation with an
overlap, the previous secret is accepted until its expiry, compared in constant time too.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import unquote_plus

from issuer.accounts.secrets import secret_matches
from issuer.errors import InvalidClient, InvalidRequest
from issuer.oauth.forms import Form, refuse_nul
from issuer.oauth.id_tokens import DEFAULT_ID_TOKEN_ALG

__all__ = [
    "AUTH_METHODS",
    "ClientDirectory",
    "ClientInfo",
    "Credentials",
    "authenticate",
    "credentials_from",
]

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
Method = Literal["client_secret_basic", "client_secret_post", "none"]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What the protocol needs of a client row, detached from any database session."""

    client_id: str
    public: bool
    secret_digest: bytes | None
    grant_types: frozenset[str]
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    alg: str | None
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    disabled: bool
    # A rotated-away secret still accepted until `previous_secret_expires_at`.
    previous_secret_digest: bytes | None = None
    previous_secret_expires_at: datetime | None = None
    introspect_any: bool = False
    # The login (authorization code flow): see `issuer.oauth.authorization`.
    name: str | None = None
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    consent_required: bool = False
    id_token_alg: str = DEFAULT_ID_TOKEN_ALG

    @property
    def display_name(self) -> str:
        """What the hosted pages call the client: its name, else its id."""
        return self.name or self.client_id


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    secret: str | None
    method: Method


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("unsupported authentication scheme; use Basic or the request body")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidClient("malformed Basic credentials") from None
    user, colon, password = decoded.partition(":")
    if not colon or not user:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 §2.3.1: the client identifier and password are form-urlencoded first.
    client_id, secret = unquote_plus(user), unquote_plus(password)
    refuse_nul(client_id, secret)
    return client_id, secret


def credentials_from(form: Form, authorization: str | None) -> Credentials:
    """The client's credentials by exactly one method, or an error."""
    body_id, body_secret = form.get("client_id"), form.get("client_secret")
    if authorization:
        client_id, secret = _basic(authorization)
        # RFC 6749 §2.3: the client MUST NOT use more than one authentication method.
        if body_secret is not None:
            raise InvalidRequest("more than one client authentication method")
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("client_id differs from the authenticated client")
        return Credentials(client_id, secret, "client_secret_basic")
    if body_id is None:
        raise InvalidClient("client authentication is required")
    if body_secret is not None:
        return Credentials(body_id, body_secret, "client_secret_post")
    return Credentials(body_id, None, "none")


Loader = Callable[[str], Awaitable[ClientInfo | None]]


class ClientDirectory:
    """Client rows by id, cached per process for `ttl` seconds (monotonic clock)."""

    def __init__(
        self,
        load: Loader,
        *,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._max = max_entries
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, ClientInfo | None]] = {}

    async def get(self, client_id: str) -> ClientInfo | None:
        now = self._monotonic()
        hit = self._cache.get(client_id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        info = await self._load(client_id)
        if len(self._cache) >= self._max:
            self._cache.clear()
        # Unknown ids are cached too: answered from the database every time, they took
        # several times longer than known ids, which told an attacker which ids exist.
        # A client registered through this process is forgotten at once (`forget`); one
        # registered elsewhere works here within `ttl`.
        self._cache[client_id] = (now, info)
        return info

    def forget(self, client_id: str) -> None:
        self._cache.pop(client_id, None)

    def forget_all(self) -> None:
        """Changes may have been missed (change notifications were interrupted)."""
        self._cache.clear()


async def authenticate(
    credentials: Credentials, directory: ClientDirectory, *, now: datetime | None = None
) -> ClientInfo:
    """The authenticated client, or `InvalidClient` (401) without saying which check failed.

    `now` decides whether a rotated-away secret is still in its overlap (without it, never).
    """
    client = await directory.get(credentials.client_id)
    if credentials.method == "none":
        if client is None or not client.public or client.disabled:
            raise InvalidClient(debug=f"public auth refused for {credentials.client_id!r}")
        return client
    # Digest and compare in constant time even for an unknown or public client, and compare
    # with the previous secret every time, whether or not there is one.
    digest = None if client is None or client.public else client.secret_digest
    previous = None
    if client is not None and not client.public and client.previous_secret_expires_at:
        if now is not None and now < client.previous_secret_expires_at:
            previous = client.previous_secret_digest
    secret = credentials.secret or ""
    matches = [secret_matches(secret, digest), secret_matches(secret, previous)]
    if not any(matches) or client is None:
        raise InvalidClient(debug=f"bad secret for {credentials.client_id!r}")
    if client.disabled:
        raise InvalidClient(debug=f"client {credentials.client_id!r} is disabled")
    return client
