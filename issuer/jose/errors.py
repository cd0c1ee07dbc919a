"""The one exception a verification failure raises, with a machine-readable reason."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason", "VerificationError"]


class Reason(StrEnum):
    """Why a token was refused; stable strings for logs, metrics and tests."""

    MALFORMED = "malformed"
    """Not a JWS Compact Serialization of JSON objects (RFC 7515 §7.1)."""
    OVERSIZED = "oversized"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    """`alg` outside the caller's pinned list, including `none` and HMAC (RFC 8725 §3.1)."""
    FORBIDDEN_HEADER = "forbidden_header"
    """A header that would let the token pick its own key: jwk, jku, x5u, x5c (RFC 8725 §3.10)."""
    UNSUPPORTED_CRIT = "unsupported_crit"
    """`crit` names an extension this verifier does not implement (RFC 7515 §4.1.11)."""
    WRONG_TYP = "wrong_typ"
    """`typ` is not `at+jwt` (RFC 9068 §4, RFC 8725 §3.11); refresh tokens land here."""
    UNKNOWN_KID = "unknown_kid"
    KEY_MISMATCH = "key_mismatch"
    """The header's `alg` does not fit the key's own `kty`/`crv`/`alg`."""
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    MISSING_CLAIM = "missing_claim"
    INVALID_CLAIM = "invalid_claim"
    JWKS_UNAVAILABLE = "jwks_unavailable"
    """No usable JWKS: the issuer is unreachable and nothing cached is within its limit."""


class VerificationError(Exception):
    """A token was refused. `reason` is for machines; `detail` is for logs, not for clients."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
