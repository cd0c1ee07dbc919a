"""Claims → signed JWS through the key ring, with the client's alg and lifetimes; and the
opaque refresh tokens (`issuer.oauth.handles`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from issuer.errors import TemporarilyUnavailable
from issuer.keyring.holder import KeyRingHolder
from issuer.keyring.ring import NoActiveKey
from issuer.oauth import handles
from issuer.oauth.access import TYP_ACCESS
from issuer.oauth.claims import access_token_claims
from issuer.oauth.client_auth import ClientInfo
from issuer.settings import Settings

__all__ = ["IssuedAccessToken", "Minter", "new_jti", "token_response"]


def new_jti() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    jti: str
    expires_in: int
    scope: str


class Minter:
    """Signs access tokens for a client, and makes its opaque refresh tokens."""

    def __init__(self, settings: Settings, keys: KeyRingHolder) -> None:
        self.settings = settings
        self._keys = keys
        self._successor_key = handles.successor_key(keys.kek)

    def ensure_signer(self, client: ClientInfo) -> None:
        """Fail before any state changes if the client's alg has no active key."""
        alg = client.alg or self.settings.default_alg
        try:
            self._keys.ring.signer(alg)
        except NoActiveKey:
            raise TemporarilyUnavailable(f"no active {alg} signing key") from None

    def _sign(self, claims: dict[str, Any], *, typ: str, client: ClientInfo) -> str:
        alg = client.alg or self.settings.default_alg
        try:
            return self._keys.ring.sign(claims, typ=typ, alg=alg)
        except NoActiveKey:
            raise TemporarilyUnavailable(f"no active {alg} signing key") from None

    def access_ttl(self, client: ClientInfo) -> int:
        return client.access_token_ttl or self.settings.access_token_ttl

    def refresh_ttl(self, client: ClientInfo) -> int:
        return client.refresh_token_ttl or self.settings.refresh_token_ttl

    def access_token(
        self,
        client: ClientInfo,
        *,
        subject: str,
        audience: str,
        scope: str,
        now: int,
        roles: Sequence[str] | None = None,
        sid: str | None = None,
    ) -> IssuedAccessToken:
        ttl = self.access_ttl(client)
        jti = new_jti()
        claims = access_token_claims(
            issuer=self.settings.url,
            subject=subject,
            audience=audience,
            client_id=client.client_id,
            scope=scope,
            iat=now,
            exp=now + ttl,
            jti=jti,
            roles=roles,
            sid=sid,
        )
        token = self._sign(claims, typ=TYP_ACCESS, client=client)
        return IssuedAccessToken(token=token, jti=jti, expires_in=ttl, scope=scope)

    def new_refresh_token(self) -> str:
        """A login's first refresh token: 256 random bits."""
        return handles.new_refresh_token()

    def successor_of(self, refresh_token: str) -> str:
        """The token that replaces `refresh_token` when it is rotated, the same every time."""
        return handles.successor(self._successor_key, refresh_token)


def token_response(access: IssuedAccessToken, refresh_token: str | None = None) -> dict[str, Any]:
    """RFC 6749 §5.1 successful response."""
    body: dict[str, Any] = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    # RFC 6749 §5.1: scope is OPTIONAL if identical to the request, REQUIRED otherwise; always.
    body["scope"] = access.scope
    return body
