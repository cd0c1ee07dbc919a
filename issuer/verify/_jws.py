"""Strict JWS Compact parsing and signature checking (RFC 7515, RFC 8725).

Everything an attacker controls is checked here before any key is chosen; joserfc then
verifies the signature under a registry that knows only the pinned algorithms.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry

from ._errors import Reason, VerificationError
from ._keys import ALG_KEY_TYPES, VerificationKey

__all__ = ["ACCESS_TOKEN_TYPES", "REGISTRIES", "ParsedToken", "parse", "verify_signature"]

MAX_TOKEN_BYTES = 8192
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
# Headers that would let the token name its own key or key source (RFC 8725 §3.10).
FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c")


class _Registry(JWSRegistry):
    """Only our algorithms. `EdDSA` is served by joserfc's RFC 9864 Ed25519 model: the same
    signature, without the SecurityWarning joserfc raises for the deprecated name."""

    algorithms = {
        "RS256": JWSRegistry.algorithms["RS256"],
        "EdDSA": JWSRegistry.algorithms["Ed25519"],
        "Ed25519": JWSRegistry.algorithms["Ed25519"],
    }
    recommended: list[str] = []


REGISTRIES = {
    alg: _Registry(algorithms=[alg], strict_check_header=False) for alg in _Registry.algorithms
}


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A decoded but not yet trusted token."""

    value: bytes
    header: dict[str, Any]
    payload: dict[str, Any]

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str:
        return str(self.header["kid"])


def _b64(segment: bytes) -> bytes:
    # RFC 7515 §2: base64url without padding; anything non-canonical is refused.
    try:
        raw = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (ValueError, binascii.Error) as error:
        raise VerificationError(Reason.MALFORMED, "bad base64url") from error
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment:
        raise VerificationError(Reason.MALFORMED, "non-canonical base64url")
    return raw


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 §6)")


def _b64_json(segment: bytes) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment).decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as error:
        raise VerificationError(Reason.MALFORMED, "bad JSON") from error
    if not isinstance(value, dict):
        raise VerificationError(Reason.MALFORMED, "not a JSON object")
    return value


def parse(
    token: str, algorithms: Collection[str], types: Collection[str] = ACCESS_TOKEN_TYPES
) -> ParsedToken:
    """Decode and apply the header policy; nothing here trusts the payload yet.

    `types` are the accepted `typ` values, lower-case: access tokens by default; the issuer
    itself also parses its refresh tokens (`rt+jwt`) here.
    """
    if len(token) > MAX_TOKEN_BYTES:
        raise VerificationError(Reason.OVERSIZED, f"{len(token)} characters")
    try:
        value = token.encode("ascii")
    except UnicodeEncodeError as error:
        raise VerificationError(Reason.MALFORMED, "non-ASCII token") from error
    parts = value.split(b".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise VerificationError(Reason.MALFORMED, "not three segments")
    header = _b64_json(parts[0])
    alg = header.get("alg")
    # RFC 8725 §3.1: the algorithm is pinned by the caller, never chosen by the token.
    if not isinstance(alg, str) or alg not in algorithms:
        raise VerificationError(Reason.ALG_NOT_ALLOWED, repr(alg))
    if found := [name for name in FORBIDDEN_HEADERS if name in header]:
        raise VerificationError(Reason.FORBIDDEN_HEADER, ",".join(found))
    # RFC 7515 §4.1.11: a recipient MUST reject a JWS whose crit it does not understand;
    # this verifier implements no extensions (b64 included: RFC 7797 §6).
    if "crit" in header or "b64" in header:
        raise VerificationError(Reason.UNSUPPORTED_CRIT, repr(header.get("crit")))
    # RFC 9068 §4: resource servers MUST verify typ is at+jwt (case-insensitive, RFC 7515).
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in types:
        raise VerificationError(Reason.WRONG_TYP, repr(typ))
    if not isinstance(header.get("kid"), str):
        raise VerificationError(Reason.UNKNOWN_KID, "no kid")
    payload = _b64_json(parts[1])
    if not parts[2]:
        raise VerificationError(Reason.BAD_SIGNATURE, "stripped signature")
    _b64(parts[2])
    return ParsedToken(value=value, header=header, payload=payload)


def verify_signature(token: ParsedToken, key: VerificationKey) -> None:
    """Check the key fits the alg, then the signature (RFC 7515 §5.2, RFC 8725 §3.1)."""
    kty, crv = ALG_KEY_TYPES[token.alg]
    if token.alg not in key.algorithms or key.key.key_type != kty:
        raise VerificationError(Reason.KEY_MISMATCH, f"{token.alg} header on {key.kid}")
    if crv is not None and key.key.get("crv") != crv:
        raise VerificationError(Reason.KEY_MISMATCH, f"{token.alg} needs {crv}")
    try:
        jws.deserialize_compact(token.value, key.key, registry=REGISTRIES[token.alg])
    except JoseError as error:
        raise VerificationError(Reason.BAD_SIGNATURE, error.error) from error
