"""A JWK Set turned into verification keys, each pinned to the algorithms it may verify."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key, import_key

__all__ = ["ALG_KEY_TYPES", "VerificationKey", "parse_jwks"]

# alg -> (kty, crv) a key must have to verify it. RFC 9864 §2 renames EdDSA over Ed25519
# to Ed25519; both names denote the same signature, so one OKP Ed25519 key serves both.
ALG_KEY_TYPES: Mapping[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed25519": ("OKP", "Ed25519"),
}
MIN_RSA_BITS = 2048  # RFC 7518 §3.3


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key and the algorithm names its own JWK members allow."""

    kid: str
    algorithms: frozenset[str]
    key: Key


def _algorithms_for(jwk: Mapping[str, Any]) -> frozenset[str]:
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    fits = {a for a, (k, c) in ALG_KEY_TYPES.items() if k == kty and c in (None, crv)}
    if alg is None:
        return frozenset(fits)
    # The key's own alg narrows it; the EdDSA/Ed25519 pair counts as one algorithm.
    if alg in ("EdDSA", "Ed25519"):
        return frozenset(fits & {"EdDSA", "Ed25519"})
    return frozenset(fits & {alg})


def _import(jwk: Mapping[str, Any]) -> VerificationKey | None:
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid or jwk.get("use", "sig") != "sig":
        return None
    algorithms = _algorithms_for(jwk)
    if not algorithms:
        return None
    # The alg binding is enforced above and in verify; joserfc's own check_alg knows
    # nothing of RFC 9864's equivalence, so the imported key carries no alg member.
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "n", "e", "x", "use")}
    try:
        key = import_key(public)
    except (JoseError, ValueError, TypeError):
        return None
    if jwk["kty"] == "RSA" and key.public_key.key_size < MIN_RSA_BITS:  # type: ignore[union-attr]
        return None
    return VerificationKey(kid=kid, algorithms=algorithms, key=key)


def parse_jwks(document: Any) -> dict[str, VerificationKey]:
    """Keys by kid. RFC 7517 §5: members a verifier cannot use are ignored, not fatal."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    keys: dict[str, VerificationKey] = {}
    for jwk in document["keys"]:
        if isinstance(jwk, Mapping) and (parsed := _import(jwk)) is not None:
            keys.setdefault(parsed.kid, parsed)
    return keys
