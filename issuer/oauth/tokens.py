"""Recognising the issuer's own tokens for revocation and introspection (either kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from issuer.jose.errors import VerificationError
from issuer.keyring.ring import KeyRing
from issuer.oauth import handles
from issuer.oauth.access import TYP_ACCESS

__all__ = ["OwnToken", "recognise"]

Kind = Literal["access_token", "refresh_token"]


@dataclass(frozen=True, slots=True)
class OwnToken:
    """A token of ours of a known kind: an access token signed by one of our keys (its claims
    not yet checked), or a refresh token by its form (its `digest`; the store knows if it is
    live)."""

    kind: Kind
    claims: dict[str, Any]
    digest: str = ""

    def str_claim(self, name: str) -> str | None:
        value = self.claims.get(name)
        return value if isinstance(value, str) and value else None

    def int_claim(self, name: str) -> int | None:
        value = self.claims.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def recognise(token: str, ring: KeyRing, *, issuer: str) -> OwnToken | None:
    """A refresh handle by its form, or an access token by our signature, our issuer and typ
    at+jwt; else None (garbage, forged, unknown kid, a JWS refresh token of before 0003).

    RFC 7009 §2.1 and RFC 7662 §2.1 let the hint order a search; the two kinds differ in
    form, so there is no search to order.
    """
    digest = handles.parse(token)
    if digest is not None:
        return OwnToken(kind="refresh_token", claims={}, digest=digest)
    try:
        claims = ring.verify(token, typ=TYP_ACCESS)
    except VerificationError:
        return None
    if claims.get("iss") != issuer or not isinstance(claims.get("jti"), str):
        return None
    return OwnToken(kind="access_token", claims=claims)
