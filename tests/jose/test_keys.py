"""A JWK Set as prepared verification keys: what a key may verify comes from the key."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer.jose.keys import parse_jwks


def _okp_jwk(**members: Any) -> dict[str, Any]:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", **members}


@pytest.mark.parametrize("alg", [None, "EdDSA", "Ed25519"])
def test_an_okp_key_verifies_both_names_of_eddsa(alg: str | None) -> None:
    jwk = _okp_jwk() if alg is None else _okp_jwk(alg=alg)
    assert set(parse_jwks({"keys": [jwk]})["k"].checks) == {"EdDSA", "Ed25519"}


@pytest.mark.parametrize("alg", ["RS256", "HS256", ["EdDSA"], {"name": "EdDSA"}, 7])
def test_a_key_whose_own_alg_it_cannot_verify_is_left_out(alg: object) -> None:
    """RFC 7517 §5: a member the verifier cannot use is ignored, never an exception."""
    assert parse_jwks({"keys": [_okp_jwk(alg=alg), _okp_jwk(kid="ok")]}).keys() == {"ok"}
