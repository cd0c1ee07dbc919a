"""Claim sets of the tokens we sign: RFC 9068 access tokens and our refresh tokens.

Both are pure functions of their arguments, with times as whole seconds: re-signing the same
refresh-token claims with the same key gives the same token (grace-period replays).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["access_token_claims"]


def access_token_claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    client_id: str,
    scope: str,
    iat: int,
    exp: int,
    jti: str,
    roles: Sequence[str] | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    """RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti REQUIRED; scope §2.2.3."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": exp,
        "iat": iat,
        "nbf": iat,
        "jti": jti,
        "client_id": client_id,
        "scope": scope,
    }
    if roles is not None:
        # RFC 9068 §2.2.3.1 (RFC 7643 roles): only for tokens that represent a user.
        claims["roles"] = list(roles)
    if sid is not None:
        # The refresh family, so that revoking it also ends its access tokens (RFC 7009 §2).
        claims["sid"] = sid
    return claims
