"""An immutable snapshot of the key ring: who signs, what is published, the JWKS bytes.

A process holds one `KeyRing` at a time and swaps it whole when the database changes, so a
request never sees half a rotation. Signing uses the one active key per alg; verification
(refresh tokens, introspection, userinfo) goes through `issuer.jose`'s strict parser, the
one `issuer.verify` uses downstream, and the key type comes from our own key, never from
the token's header.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from issuer.jose.algs import JWS_ALGS, with_aliases
from issuer.jose.errors import Reason, VerificationError
from issuer.jose.jws import parse, verify_signature
from issuer.jose.keys import VerificationKey
from issuer.keyring.material import KeyMaterial
from issuer.keyring.states import KeyState

__all__ = ["KeyRing", "NoActiveKey", "RingKey", "ring_changes"]


class NoActiveKey(LookupError):
    """No active signing key for an alg: the ring is not ready to sign it."""


@dataclass(frozen=True, slots=True)
class RingKey:
    """One key of the ring in its lifecycle state, with what it publishes."""

    material: KeyMaterial
    state: KeyState
    jws_alg: str
    published_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    unpublish_after: datetime | None = None
    public_jwk: dict[str, Any] = field(init=False)
    _verification: VerificationKey = field(init=False, repr=False)
    _signing_prefix: dict[str, bytes] = field(init=False, repr=False)
    _sign_bytes: Callable[[bytes], bytes] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", KeyState(self.state))
        jwk = self.material.public_jwk(self.jws_alg)
        algorithms = with_aliases((self.material.alg,))
        object.__setattr__(self, "public_jwk", jwk)
        object.__setattr__(
            self,
            "_verification",
            VerificationKey(kid=self.kid, algorithms=algorithms, key=self.material.key),
        )
        object.__setattr__(self, "_signing_prefix", {})
        object.__setattr__(self, "_sign_bytes", _signer_of(self.material))

    @property
    def kid(self) -> str:
        return self.material.kid

    @property
    def alg(self) -> str:
        """Our alg family (`RS256` or `EdDSA`); `jws_alg` is what goes in headers."""
        return self.material.alg

    def header(self, typ: str) -> dict[str, str]:
        return {"alg": self.jws_alg, "kid": self.kid, "typ": typ}

    def sign_compact(self, payload: bytes, typ: str) -> str:
        """RFC 7515 §7.1 compact serialisation: the encoded header is made once per typ."""
        prefix = self._signing_prefix.get(typ)
        if prefix is None:
            header = json.dumps(self.header(typ), separators=(",", ":")).encode()
            prefix = self._signing_prefix[typ] = _b64url(header) + b"."
        signing_input = prefix + _b64url(payload)
        return (signing_input + b"." + _b64url(self._sign_bytes(signing_input))).decode()


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signer_of(material: KeyMaterial) -> Callable[[bytes], bytes]:
    """The private key's raw sign operation for our alg (RS256: RSASSA-PKCS1-v1_5/SHA-256)."""
    private = material.key.private_key
    if material.alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        pkcs1v15, sha256 = padding.PKCS1v15(), hashes.SHA256()
        return lambda data: private.sign(data, pkcs1v15, sha256)
    if material.alg == "EdDSA" and isinstance(private, ed25519.Ed25519PrivateKey):
        return private.sign
    raise ValueError(f"key {material.kid} is not a private {material.alg} key")


class KeyRing:
    """Signing and verifying keys plus the precomputed JWKS document and its ETag."""

    def __init__(self, keys: Iterable[RingKey], *, now: datetime) -> None:
        self.keys: dict[str, RingKey] = {key.kid: key for key in keys}
        self.active: dict[str, RingKey] = {
            key.alg: key for key in self.keys.values() if key.state is KeyState.ACTIVE
        }
        self.published = [
            key
            for key in self.keys.values()
            if key.state.is_published(unpublish_after=key.unpublish_after, now=now)
        ]
        document = {"keys": [key.public_jwk for key in self.published]}
        self.jwks_body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        # A strong validator over the exact bytes (RFC 9110 §8.8.3).
        self.jwks_etag = '"' + hashlib.sha256(self.jwks_body).hexdigest()[:32] + '"'
        self.version = (
            self.jwks_etag.strip('"')
            + ":"
            + ",".join(
                f"{k.kid}={k.state}" for k in sorted(self.keys.values(), key=lambda k: k.kid)
            )
        )
        # A retired key verifies (refresh tokens, introspection) as long as it is published:
        # past `unpublish_after` every token it signed has expired.
        self._verifiers = {key.kid: key for key in self.published if key.state.verifies}

    @property
    def signing_algorithms(self) -> list[str]:
        """The JWS `alg` values this ring signs with now (for discovery)."""
        return sorted({key.jws_alg for key in self.active.values()})

    def signer(self, alg: str) -> RingKey:
        try:
            return self.active[alg]
        except KeyError:
            raise NoActiveKey(f"no active {alg} signing key") from None

    def sign(self, claims: Mapping[str, Any], *, typ: str, alg: str) -> str:
        """A JWS Compact token with header {alg, kid, typ} signed by the active key of alg."""
        return self.signer(alg).sign_compact(msgspec.json.encode(claims), typ)

    def verify(self, token: str, *, typ: str) -> dict[str, Any]:
        """Check header policy and signature against our own active or retired keys.

        Returns the payload; claim checks (exp, aud, …) are the caller's. Raises
        `VerificationError` with a machine-readable reason.
        """
        parsed = parse(token, JWS_ALGS, types=(typ,))
        key = self._verifiers.get(parsed.kid)
        if key is None:
            raise VerificationError(Reason.UNKNOWN_KID, parsed.kid)
        verify_signature(parsed, key._verification)
        return parsed.payload


def ring_changes(before: KeyRing, after: KeyRing) -> list[str]:
    """What a reload changed, one phrase per key: `added RS256 next <kid>`, `<kid> active ->
    retired`, `unpublished <kid>`, `removed <kid>`; the keys that stayed as they were are not
    named."""
    changes = []
    published_before = {key.kid for key in before.published}
    published_after = {key.kid for key in after.published}
    for kid, key in after.keys.items():
        old = before.keys.get(kid)
        if old is None:
            changes.append(f"added {key.alg} {key.state} {kid}")
        elif old.state is not key.state:
            changes.append(f"{key.alg} {kid} {old.state} -> {key.state}")
        elif kid in published_before and kid not in published_after:
            changes.append(f"unpublished {key.alg} {kid}")
    changes += [
        f"removed {key.alg} {kid}" for kid, key in before.keys.items() if kid not in after.keys
    ]
    return changes
