"""Key material: generation with `cryptography`, RFC 7638 kids, AES-GCM encryption at rest."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import OKPKey, RSAKey

from issuer.jose.algs import ALGS

__all__ = [
    "KeyDecryptionError",
    "KeyMaterial",
    "decrypt_private_key",
    "encrypt_private_key",
    "generate",
    "load",
]

JoseKey = RSAKey | OKPKey

_NONCE_BYTES = 12
_BLOB_VERSION = b"\x01"


class KeyDecryptionError(Exception):
    """The stored key does not decrypt under this KEK: a wrong KEK or a tampered row."""


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """A private key with its kid (RFC 7638 thumbprint) and public JWK."""

    kid: str
    alg: str
    key: JoseKey

    def public_jwk(self, jws_alg: str) -> dict[str, Any]:
        """Public members only, plus kid, alg and use (RFC 7517 §4)."""
        public = self.key.as_dict(private=False)
        allowed = ("kty", "n", "e") if public["kty"] == "RSA" else ("kty", "crv", "x")
        jwk = {name: public[name] for name in allowed}
        jwk.update(kid=self.kid, alg=jws_alg, use="sig")
        return jwk


def _key_type(alg: str) -> tuple[str, str | None] | None:
    # The key type is fixed by our alg, never by a token's header.
    spec = ALGS.get(alg)
    return None if spec is None else (spec.kty, spec.crv)


def generate(alg: str, *, rsa_bits: int = 2048) -> KeyMaterial:
    key: JoseKey
    key_type = _key_type(alg)
    if key_type == ("RSA", None):
        if rsa_bits < 2048:
            raise ValueError("RSA keys are at least 2048 bits")
        key = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits))
    elif key_type == ("OKP", "Ed25519"):
        key = OKPKey.import_key(ed25519.Ed25519PrivateKey.generate())
    else:
        raise ValueError(f"unsupported signing alg {alg!r}")
    return KeyMaterial(kid=key.thumbprint(), alg=alg, key=key)


def load(alg: str, private_der: bytes) -> KeyMaterial:
    private = serialization.load_der_private_key(private_der, password=None)
    key: JoseKey
    key_type = _key_type(alg)
    if key_type == ("RSA", None) and isinstance(private, rsa.RSAPrivateKey):
        key = RSAKey.import_key(private)
    elif key_type == ("OKP", "Ed25519") and isinstance(private, ed25519.Ed25519PrivateKey):
        key = OKPKey.import_key(private)
    else:
        raise KeyDecryptionError(f"stored key is not a {alg} key")
    return KeyMaterial(kid=key.thumbprint(), alg=alg, key=key)


def _private_der(material: KeyMaterial) -> bytes:
    private = material.key.private_key
    if private is None:
        raise ValueError("no private key")
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def encrypt_private_key(material: KeyMaterial, kek: bytes) -> bytes:
    """version || nonce || AES-256-GCM(PKCS#8 DER), with the kid as associated data."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(kek).encrypt(nonce, _private_der(material), material.kid.encode("ascii"))
    return _BLOB_VERSION + nonce + sealed


def decrypt_private_key(kid: str, alg: str, blob: bytes, kek: bytes) -> KeyMaterial:
    """Open a stored key; the kid binds the blob to its row, and must match the thumbprint."""
    if not blob.startswith(_BLOB_VERSION):
        raise KeyDecryptionError(f"key {kid}: unknown blob format")
    nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        der = AESGCM(kek).decrypt(nonce, sealed, kid.encode("ascii"))
    except InvalidTag:
        raise KeyDecryptionError(
            f"key {kid} does not decrypt: the key-encryption key (ISSUER_KEK or "
            "ISSUER_KEYS_DIR/kek) is not the one these keys were stored with"
        ) from None
    material = load(alg, der)
    if material.kid != kid:
        raise KeyDecryptionError(f"key {kid}: thumbprint does not match its kid")
    return material
