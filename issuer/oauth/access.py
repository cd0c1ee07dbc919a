"""Checking the issuer's own access tokens (userinfo, admin API, introspection).

The same strict checks as downstream verifiers (`issuer.jose`, the core `issuer.verify`
shares: pinned algs, typ at+jwt, iss/aud/exp/nbf/iat), plus what only the issuer knows:
the deny-list and whether the token's refresh family (`sid`) is still live (RFC 7009 §2).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from issuer.errors import InvalidToken, NoCredentials
from issuer.jose.claims import AccessTokenClaims, validate_claims
from issuer.jose.errors import VerificationError
from issuer.keyring.ring import KeyRing
from issuer.store.database import Database
from issuer.store.token_state import AccessTokenState, access_token_state

__all__ = [
    "LEEWAY_SECONDS",
    "TYP_ACCESS",
    "LiveAccessToken",
    "access_claims",
    "bearer_token",
    "check_access_token",
    "require_live",
]

TYP_ACCESS = "at+jwt"  # RFC 9068 §2.1
# Skew between issuer processes, on nbf and iat only: the issuer is the clock of record for
# exp, so a token is refused at its own endpoints from the second it expires.
LEEWAY_SECONDS = 5


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header (RFC 6750 §2.1)."""
    if not authorization or not authorization.strip():
        raise NoCredentials("no bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header is not a Bearer token")
    return token.strip()


def access_claims(
    payload: dict[str, Any],
    *,
    issuer: str,
    now: datetime,
    audiences: Collection[str] | None = None,
) -> AccessTokenClaims:
    """The claims of a payload whose signature and typ were checked, or `InvalidToken`.

    `audiences=None` accepts any audience (userinfo serves every client of this issuer).
    """
    try:
        aud = payload.get("aud")
        wanted = audiences if audiences is not None else ([aud] if isinstance(aud, str) else aud)
        return validate_claims(
            payload,
            issuer=issuer,
            audiences=wanted if isinstance(wanted, Collection) else (),
            now=now.timestamp(),
            leeway=LEEWAY_SECONDS,
            exp_leeway=0,
        )
    except VerificationError as exc:
        raise InvalidToken("the access token is invalid", debug=str(exc.reason)) from None


async def require_live(
    database: Database, claims: AccessTokenClaims, *, now: datetime
) -> AccessTokenState:
    """What the database knows of the token (one round trip); `InvalidToken` if revoked."""
    state = await access_token_state(
        database,
        jti=claims.jti,
        sid=claims.sid,
        sub=claims.sub,
        now=now,
        client_id=claims.client_id,
    )
    if state.client is None or state.client.disabled:
        raise InvalidToken("the access token was revoked", debug="client disabled or deleted")
    if state.denied:
        raise InvalidToken("the access token was revoked", debug="deny-listed jti")
    if claims.sid is not None and not state.family_live:
        raise InvalidToken("the access token was revoked", debug="family revoked or expired")
    return state


@dataclass(frozen=True, slots=True)
class LiveAccessToken:
    claims: AccessTokenClaims
    state: AccessTokenState


async def check_access_token(
    token: str,
    *,
    ring: KeyRing,
    database: Database,
    issuer: str,
    now: datetime,
    audiences: Collection[str] | None = None,
) -> LiveAccessToken:
    """A verified, live access token and what is stored about it, or `InvalidToken`."""
    try:
        payload = ring.verify(token, typ=TYP_ACCESS)
    except VerificationError as exc:
        raise InvalidToken("the access token is invalid", debug=str(exc.reason)) from None
    claims = access_claims(payload, issuer=issuer, now=now, audiences=audiences)
    return LiveAccessToken(claims, await require_live(database, claims, now=now))
