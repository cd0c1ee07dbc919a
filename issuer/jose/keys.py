"""A JWK Set turned into verification keys, each pinned to the algorithms it may verify."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from joserfc.errors import JoseError
from joserfc.jwk import Key, import_key

from .algs import ALG_KEY_TYPES, with_aliases

__all__ = ["MIN_RSA_BITS", "SignatureCheck", "VerificationKey", "parse_jwks"]

MIN_RSA_BITS = 2048  # RFC 7518 §3.3

SignatureCheck = Callable[[bytes, bytes], None]
"""`check(signature, signing_input)`: returns, or raises `InvalidSignature`."""

_PKCS1V15 = padding.PKCS1v15()
_PREHASHED_SHA256 = Prehashed(hashes.SHA256())


def _rs256(public: rsa.RSAPublicKey) -> SignatureCheck:
    # RFC 7518 §3.3: RSASSA-PKCS1-v1_5 over SHA-256. The digest is computed here, so
    # OpenSSL is handed the exact DigestInfo it must find; the check is the same one.
    verify, sha256 = public.verify, hashlib.sha256

    def check(signature: bytes, signing_input: bytes) -> None:
        verify(signature, sha256(signing_input).digest(), _PKCS1V15, _PREHASHED_SHA256)

    return check


def _checks(key: Key, algorithms: frozenset[str]) -> Mapping[str, SignatureCheck]:
    """A ready `cryptography` verifier per alg, for the algs this key may verify only.

    Built once per key; the alg a token may use with the key is fixed here, by the key's
    own kty/crv (and the cryptography object it really is), never by a token's header.
    """
    public = key.public_key
    checks: dict[str, SignatureCheck] = {}
    for alg in algorithms:
        kty, crv = ALG_KEY_TYPES[alg]
        if key.key_type != kty or (crv is not None and key.get("crv") != crv):
            continue
        if kty == "RSA" and isinstance(public, rsa.RSAPublicKey):
            checks[alg] = _rs256(public)
        elif crv == "Ed25519" and isinstance(public, ed25519.Ed25519PublicKey):
            checks[alg] = public.verify
    return MappingProxyType(checks)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key and the algorithm names its own JWK members allow."""

    kid: str
    algorithms: frozenset[str]
    key: Key
    checks: Mapping[str, SignatureCheck] = field(init=False, repr=False, compare=False)
    """Signature checks by alg: exactly the `algorithms` this key's type can verify."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", _checks(self.key, self.algorithms))


def _algorithms_for(jwk: Mapping[str, Any]) -> frozenset[str]:
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    fits = frozenset(a for a, (k, c) in ALG_KEY_TYPES.items() if k == kty and c in (None, crv))
    if alg is None:
        return fits
    # The key's own alg narrows it; the EdDSA/Ed25519 pair counts as one algorithm. An alg
    # that is not a string names nothing (RFC 7517 §4.4: a case-sensitive string).
    return fits & with_aliases((alg,)) if isinstance(alg, str) else frozenset()


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
