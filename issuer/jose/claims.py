"""RFC 9068 access-token claims: validation and the typed result handed to handlers."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import Reason, VerificationError

__all__ = ["AccessTokenClaims", "validate_claims"]

# RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat and jti are REQUIRED.
REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
_REQUIRED_SET = frozenset(REQUIRED)


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    """A verified access token's claims. `scope` and `roles` are sets, so checks are exact."""

    iss: str
    sub: str
    aud: tuple[str, ...]
    client_id: str
    exp: int
    iat: int
    jti: str
    nbf: int | None = None
    scope: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    sid: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Every claim as received, read-only, for claims this class does not name."""

    def has_scopes(self, *scopes: str) -> bool:
        return self.scope.issuperset(scopes)

    def has_roles(self, *roles: str) -> bool:
        return self.roles.issuperset(roles)


def _int(claims: Mapping[str, Any], name: str) -> int:
    # RFC 7519 §2 NumericDate; bool is an int subclass in Python and is not a date, and
    # neither is a JSON number too large for a float (1e400 parses as infinity).
    value = claims[name]
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise VerificationError(Reason.INVALID_CLAIM, f"{name} is not a NumericDate")
    return int(value)


def _str(claims: Mapping[str, Any], name: str) -> str:
    value = claims[name]
    if not isinstance(value, str) or not value:
        raise VerificationError(Reason.INVALID_CLAIM, f"{name} is not a non-empty string")
    return value


def _str_list(value: Any, name: str, *, single: bool = False) -> tuple[str, ...]:
    # RFC 7519 §4.1.3: aud is a string or an array of strings; roles is always an array.
    if single and isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                break
        else:
            return tuple(value)
    raise VerificationError(Reason.INVALID_CLAIM, f"{name} is not a string or string list")


def validate_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audiences: Collection[str],
    now: float,
    leeway: float,
    exp_leeway: float | None = None,
) -> AccessTokenClaims:
    """Check a signature-verified payload against RFC 9068 §4 and RFC 7519 §4.1.

    `leeway` allows for clock skew on nbf and iat, and on exp unless `exp_leeway` is given
    (the issuer, the clock of record, gives 0 at its own endpoints).
    """
    if not claims.keys() >= _REQUIRED_SET:
        missing = next(name for name in REQUIRED if name not in claims)
        raise VerificationError(Reason.MISSING_CLAIM, missing)
    iss, exp, iat = _str(claims, "iss"), _int(claims, "exp"), _int(claims, "iat")
    nbf = _int(claims, "nbf") if "nbf" in claims else None
    # RFC 9068 §4: the iss claim MUST exactly match the issuer identifier.
    if iss != issuer:
        raise VerificationError(Reason.WRONG_ISSUER, iss)
    aud = _str_list(claims["aud"], "aud", single=True)
    # RFC 9068 §4: the aud claim MUST contain an audience this resource server expects.
    wanted = audiences if isinstance(audiences, frozenset | set) else set(audiences)
    if wanted.isdisjoint(aud):
        raise VerificationError(Reason.WRONG_AUDIENCE, ",".join(aud))
    # RFC 7519 §4.1.4: MUST NOT be accepted on or after exp (leeway for clock skew). The
    # leeway goes on the float side: an int date beyond float range still compares.
    if now - (leeway if exp_leeway is None else exp_leeway) >= exp:
        raise VerificationError(Reason.EXPIRED, f"exp={exp}")
    if nbf is not None and now + leeway < nbf:
        raise VerificationError(Reason.NOT_YET_VALID, f"nbf={nbf}")
    if now + leeway < iat:
        raise VerificationError(Reason.ISSUED_IN_FUTURE, f"iat={iat}")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise VerificationError(Reason.INVALID_CLAIM, "scope is not a string")
    roles = _str_list(claims.get("roles", []), "roles")
    sid = claims.get("sid")
    if sid is not None and not isinstance(sid, str):
        raise VerificationError(Reason.INVALID_CLAIM, "sid is not a string")
    return AccessTokenClaims(
        iss=iss,
        sub=_str(claims, "sub"),
        aud=aud,
        client_id=_str(claims, "client_id"),
        exp=exp,
        iat=iat,
        jti=_str(claims, "jti"),
        nbf=nbf,
        # RFC 8693 §4.2 / RFC 9068 §2.2.3: scope is a space-separated list.
        scope=frozenset(scope.split()),
        roles=frozenset(roles),
        sid=sid,
        extra=MappingProxyType(dict(claims)),
    )
