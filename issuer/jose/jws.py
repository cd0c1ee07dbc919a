"""Strict JWS Compact parsing and signature checking (RFC 7515, RFC 8725).

Everything an attacker controls is checked here before any key is chosen; the signature
is then checked by the `cryptography` verifier the key prepared for the pinned alg.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature

from ._segments import b64url, json_object
from .errors import Reason, VerificationError
from .keys import VerificationKey

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "MAX_TOKEN_BYTES",
    "ParsedToken",
    "Parser",
    "parse",
    "verify_signature",
]

MAX_TOKEN_BYTES = 8192
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
# Headers that would let the token name its own key or key source (RFC 8725 §3.10).
FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c")
# Any of these in a header means a refusal; the slow path then says which rule it broke.
_SPECIAL_HEADERS = frozenset((*FORBIDDEN_HEADERS, "crit", "b64"))


class ParsedToken(NamedTuple):
    """A decoded but not yet trusted token."""

    header: dict[str, Any]
    payload: dict[str, Any]
    alg: str
    kid: str
    signing_input: bytes
    """ASCII(BASE64URL(header) || '.' || BASE64URL(payload)), RFC 7515 §5.2 step 8."""
    signature: bytes


def _header_policy(
    header: dict[str, Any], algorithms: Collection[str], types: Collection[str]
) -> tuple[str, str]:
    """The header's (alg, kid) once it passed every header rule."""
    alg = header.get("alg")
    # RFC 8725 §3.1: the algorithm is pinned by the caller, never chosen by the token.
    if type(alg) is not str or alg not in algorithms:
        raise VerificationError(Reason.ALG_NOT_ALLOWED, repr(alg))
    if not _SPECIAL_HEADERS.isdisjoint(header):
        if found := [name for name in FORBIDDEN_HEADERS if name in header]:
            raise VerificationError(Reason.FORBIDDEN_HEADER, ",".join(found))
        # RFC 7515 §4.1.11: a recipient MUST reject a JWS whose crit it does not understand;
        # this verifier implements no extensions (b64 included: RFC 7797 §6).
        raise VerificationError(Reason.UNSUPPORTED_CRIT, repr(header.get("crit")))
    # RFC 9068 §4: resource servers MUST verify typ is at+jwt (case-insensitive, RFC 7515).
    typ = header.get("typ")
    if type(typ) is not str or typ.lower() not in types:
        raise VerificationError(Reason.WRONG_TYP, repr(typ))
    kid = header.get("kid")
    if type(kid) is not str:
        raise VerificationError(Reason.UNKNOWN_KID, "no kid")
    return alg, kid


_Accepted = tuple[dict[str, Any], str, str]


def _parse(
    token: str,
    algorithms: Collection[str],
    types: Collection[str],
    accepted: dict[bytes, _Accepted] | None,
) -> ParsedToken:
    if len(token) > MAX_TOKEN_BYTES:
        raise VerificationError(Reason.OVERSIZED, f"{len(token)} characters")
    try:
        value = token.encode("ascii")
    except UnicodeEncodeError as error:
        raise VerificationError(Reason.MALFORMED, "non-ASCII token") from error
    parts = value.split(b".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise VerificationError(Reason.MALFORMED, "not three segments")
    encoded_header, encoded_payload, encoded_signature = parts
    known = None if accepted is None else accepted.get(encoded_header)
    if known is None:
        header = json_object(encoded_header)
        known = (header, *_header_policy(header, algorithms, types))
        if accepted is not None:
            if len(accepted) >= Parser.MAX_HEADERS:
                accepted.clear()
            accepted[encoded_header] = known
    header, alg, kid = known
    payload = json_object(encoded_payload)
    if not encoded_signature:
        raise VerificationError(Reason.BAD_SIGNATURE, "stripped signature")
    signature = b64url(encoded_signature)
    signing_input = value[: len(encoded_header) + 1 + len(encoded_payload)]
    return ParsedToken(header, payload, alg, kid, signing_input, signature)


def parse(
    token: str, algorithms: Collection[str], types: Collection[str] = ACCESS_TOKEN_TYPES
) -> ParsedToken:
    """Decode and apply the header policy; nothing here trusts the payload yet.

    `types` are the accepted `typ` values, lower-case: access tokens by default; the issuer
    itself also parses its refresh tokens (`rt+jwt`) here.
    """
    return _parse(token, algorithms, types, None)


class Parser:
    """`parse` under one fixed policy, remembering the header segments it has accepted.

    An issuer's tokens share a handful of exact header segments (one per key), so decoding
    and policing each again is waste. Only that verdict is remembered, keyed by the exact
    segment bytes: every token's payload, signature and claims are still checked. Refused
    headers are not kept, and the memory is bounded (cleared when full).
    """

    MAX_HEADERS = 64

    def __init__(
        self, algorithms: Collection[str], types: Collection[str] = ACCESS_TOKEN_TYPES
    ) -> None:
        self.algorithms = frozenset(algorithms)
        self.types = tuple(types)
        self._accepted: dict[bytes, _Accepted] = {}

    def parse(self, token: str) -> ParsedToken:
        return _parse(token, self.algorithms, self.types, self._accepted)


def verify_signature(token: ParsedToken, key: VerificationKey) -> None:
    """Check the key fits the alg, then the signature (RFC 7515 §5.2, RFC 8725 §3.1).

    The key offers a check only for the algs its own kty/crv/alg allow, so an RSA key never
    verifies an EdDSA-headed token, nor an OKP key an RS256-headed one.
    """
    check = key.checks.get(token.alg)
    if check is None:
        raise VerificationError(Reason.KEY_MISMATCH, f"{token.alg} header on {key.kid}")
    try:
        check(token.signature, token.signing_input)
    except InvalidSignature as error:
        raise VerificationError(Reason.BAD_SIGNATURE, "signature does not verify") from error
