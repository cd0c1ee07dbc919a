"""Claims → signed JWS through the key ring, with the client's algs and lifetimes (access
tokens, ID tokens); and the opaque refresh tokens (`issuer.oauth.handles`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from issuer.errors import TemporarilyUnavailable
from issuer.keyring.holder import KeyRingHolder
from issuer.keyring.ring import NoActiveKey, RingKey
from issuer.oauth import handles
from issuer.oauth.access import TYP_ACCESS
from issuer.oauth.claims import access_token_claims
from issuer.oauth.client_auth import ClientInfo
from issuer.oauth.id_tokens import TYP_ID_TOKEN, at_hash, id_token_claims
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

    def ensure_signer(self, client: ClientInfo, *, id_token: bool = False) -> None:
        """Fail before any state changes if the client's alg (and, for a login that returns
        an ID token, its id_token_alg) has no active key."""
        self._signer(client.alg or self.settings.default_alg)
        if id_token:
            self._signer(client.id_token_alg)

    def _signer(self, alg: str) -> RingKey:
        try:
            return self._keys.ring.signer(alg)
        except NoActiveKey:
            raise TemporarilyUnavailable(f"no active {alg} signing key") from None

    def _sign(self, claims: dict[str, Any], *, typ: str, alg: str) -> str:
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
        jti: str | None = None,
    ) -> IssuedAccessToken:
        """`jti`: chosen beforehand when it must be recorded first (a code's first use)."""
        ttl = self.access_ttl(client)
        jti = jti or new_jti()
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
        token = self._sign(claims, typ=TYP_ACCESS, alg=client.alg or self.settings.default_alg)
        return IssuedAccessToken(token=token, jti=jti, expires_in=ttl, scope=scope)

    def id_token(
        self,
        client: ClientInfo,
        *,
        subject: str,
        now: int,
        auth_time: int,
        nonce: str | None,
        access_token: str,
        sid: str,
        email: str | None = None,
        email_verified: bool | None = None,
    ) -> str:
        """An ID token for the client (OpenID Connect Core §2), signed with its
        id_token_alg, living as long as its access tokens; `at_hash` of `access_token`."""
        jws_alg = self._signer(client.id_token_alg).jws_alg
        claims = id_token_claims(
            issuer=self.settings.url,
            subject=subject,
            client_id=client.client_id,
            iat=now,
            exp=now + self.access_ttl(client),
            auth_time=auth_time,
            nonce=nonce,
            at_hash=at_hash(access_token, jws_alg),
            sid=sid,
            email=email,
            email_verified=email_verified,
        )
        return self._sign(claims, typ=TYP_ID_TOKEN, alg=client.id_token_alg)

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
