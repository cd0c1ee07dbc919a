"""Checking the issuer's own access tokens (userinfo, admin API, introspection).

The same strict checks as downstream verifiers (`issuer.verify`: pinned algs, typ at+jwt,
iss/aud/exp/nbf/iat), plus what only the issuer knows: the deny-list and whether the
token's refresh family (`sid`) is still live (RFC 7009 §2).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.errors import InvalidToken
from issuer.keyring.ring import KeyRing
from issuer.store import denylist, families
from issuer.verify._claims import AccessTokenClaims, validate_claims
from issuer.verify._errors import VerificationError

__all__ = [
    "LEEWAY_SECONDS",
    "TYP_ACCESS",
    "TYP_REFRESH",
    "bearer_token",
    "check_access_token",
]

TYP_ACCESS = "at+jwt"  # RFC 9068 §2.1
TYP_REFRESH = "rt+jwt"  # ours: never accepted where an access token is expected
LEEWAY_SECONDS = 5


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header (RFC 6750 §2.1)."""
    if not authorization:
        raise InvalidToken("no bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header is not a Bearer token")
    return token.strip()


async def check_access_token(
    token: str,
    *,
    ring: KeyRing,
    session: AsyncSession,
    issuer: str,
    now: datetime,
    audiences: Collection[str] | None = None,
) -> AccessTokenClaims:
    """Verified claims of a live access token, or `InvalidToken`.

    `audiences=None` accepts any audience (userinfo serves every client of this issuer).
    """
    try:
        payload = ring.verify(token, typ=TYP_ACCESS)
        aud = payload.get("aud")
        wanted = audiences if audiences is not None else ([aud] if isinstance(aud, str) else aud)
        claims = validate_claims(
            payload,
            issuer=issuer,
            audiences=wanted if isinstance(wanted, Collection) else (),
            now=now.timestamp(),
            leeway=LEEWAY_SECONDS,
        )
    except VerificationError as exc:
        raise InvalidToken("the access token is invalid", debug=str(exc.reason)) from None
    if await denylist.contains(session, claims.jti):
        raise InvalidToken("the access token was revoked", debug="deny-listed jti")
    if claims.sid is not None and not await families.is_live(session, claims.sid, now=now):
        raise InvalidToken("the access token was revoked", debug="family revoked or expired")
    return claims
