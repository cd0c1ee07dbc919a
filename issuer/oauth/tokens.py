"""Recognising the issuer's own tokens for revocation and introspection (either kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from issuer.jose.errors import VerificationError
from issuer.keyring.ring import KeyRing
from issuer.oauth.access import TYP_ACCESS, TYP_REFRESH

__all__ = ["OwnToken", "recognise"]

Kind = Literal["access_token", "refresh_token"]


@dataclass(frozen=True, slots=True)
class OwnToken:
    """A token signed by one of our keys, of a known kind; its claims are not yet checked."""

    kind: Kind
    claims: dict[str, Any]

    def str_claim(self, name: str) -> str | None:
        value = self.claims.get(name)
        return value if isinstance(value, str) and value else None

    def int_claim(self, name: str) -> int | None:
        value = self.claims.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def recognise(token: str, ring: KeyRing, *, issuer: str, hint: str | None) -> OwnToken | None:
    """Our signature, our issuer and a typ we issue; else None (garbage, forged, unknown kid).

    RFC 7009 §2.1: the hint is only where to look first; the search extends to every kind.
    """
    kinds: list[tuple[Kind, str]] = [
        ("access_token", TYP_ACCESS),
        ("refresh_token", TYP_REFRESH),
    ]
    if hint == "refresh_token":
        kinds.reverse()
    for kind, typ in kinds:
        try:
            claims = ring.verify(token, typ=typ)
        except VerificationError:
            continue
        if claims.get("iss") != issuer or not isinstance(claims.get("jti"), str):
            return None
        return OwnToken(kind=kind, claims=claims)
    return None
