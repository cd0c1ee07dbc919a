import os
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from issuer.keyring.material import (
    KeyDecryptionError,
    KeyMaterial,
    decrypt_private_key,
    encrypt_private_key,
    generate,
)
from issuer.keyring.ring import KeyRing, NoActiveKey, RingKey
from issuer.verify import VerificationError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def ring_of(*keys: tuple[str, str], now: datetime = NOW) -> KeyRing:
    ring_keys = []
    for alg, state in keys:
        material = generate(alg)
        jws_alg = "EdDSA" if alg == "EdDSA" else "RS256"
        ring_keys.append(RingKey(material=material, state=state, jws_alg=jws_alg, published_at=now))
    return KeyRing(ring_keys, now=now)


@pytest.mark.parametrize("alg", ["RS256", "EdDSA"])
def test_sign_then_verify_with_own_key(alg: str) -> None:
    ring = ring_of((alg, "active"), (alg, "next"))
    token = ring.sign({"sub": "u", "jti": "1"}, typ="rt+jwt", alg=alg)
    assert ring.verify(token, typ="rt+jwt") == {"sub": "u", "jti": "1"}
    with pytest.raises(VerificationError) as caught:
        ring.verify(token, typ="at+jwt")
    assert caught.value.reason == "wrong_typ"


def test_kid_is_the_rfc7638_thumbprint_and_pyjwt_verifies_with_the_jwks() -> None:
    ring = ring_of(("RS256", "active"))
    [jwk] = [k.public_jwk for k in ring.published]
    assert jwk["kid"] == ring.signer("RS256").material.key.thumbprint()
    token = ring.sign({"sub": "u"}, typ="at+jwt", alg="RS256")
    public = jwt.PyJWK(jwk)
    assert jwt.decode(token, public.key, algorithms=["RS256"]) == {"sub": "u"}
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": jwk["kid"], "typ": "at+jwt"}


def test_jwks_holds_public_members_only_and_no_revoked_key() -> None:
    ring = ring_of(
        ("RS256", "active"), ("RS256", "next"), ("EdDSA", "active"), ("EdDSA", "revoked")
    )
    import json

    document = json.loads(ring.jwks_body)
    assert len(document["keys"]) == 3
    for jwk in document["keys"]:
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig" and jwk["alg"] in ("RS256", "EdDSA") and jwk["kid"]
    assert ring.jwks_etag.startswith('"') and ring.jwks_etag.endswith('"')


def test_retired_key_leaves_the_jwks_after_its_tokens_expired() -> None:
    material = generate("EdDSA")
    retired = RingKey(
        material=material,
        state="retired",
        jws_alg="EdDSA",
        published_at=NOW,
        unpublish_after=NOW + timedelta(minutes=15),
    )
    assert KeyRing([retired], now=NOW).published == [retired]
    assert KeyRing([retired], now=NOW + timedelta(minutes=16)).published == []


def test_no_active_key_is_a_clear_error() -> None:
    ring = ring_of(("RS256", "next"))
    with pytest.raises(NoActiveKey, match="no active EdDSA"):
        ring.sign({}, typ="at+jwt", alg="EdDSA")


@pytest.mark.parametrize("alg", ["RS256", "EdDSA"])
def test_private_key_is_encrypted_at_rest_bound_to_its_kid(alg: str) -> None:
    kek = os.urandom(32)
    material = generate(alg)
    blob = encrypt_private_key(material, kek)
    assert material.kid.encode() not in blob
    opened = decrypt_private_key(material.kid, alg, blob, kek)
    assert opened.kid == material.kid
    with pytest.raises(KeyDecryptionError, match="key-encryption key"):
        decrypt_private_key(material.kid, alg, blob, os.urandom(32))
    other = generate(alg)
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(other.kid, alg, blob, kek)


@pytest.mark.parametrize("header_alg", ["EdDSA", "Ed25519"])
def test_an_ed25519_key_verifies_under_either_name_of_its_alg(header_alg: str) -> None:
    """RFC 9864 §2: whichever name ISSUER_EDDSA_JWS_ALG picked, the ring's verify accepts
    both, so a change of the setting does not void the tokens already out."""
    material = generate("EdDSA")
    key = RingKey(material=material, state="active", jws_alg="EdDSA", published_at=NOW)
    signed_as = RingKey(material=material, state="active", jws_alg=header_alg, published_at=NOW)
    token = signed_as.sign_compact(b'{"sub":"u"}', "at+jwt")
    assert KeyRing([key], now=NOW).verify(token, typ="at+jwt") == {"sub": "u"}


def test_a_header_naming_the_other_keys_alg_is_a_key_mismatch() -> None:
    """An EdDSA-headed token under an RSA key's kid: the key's own type refuses it."""
    ring = ring_of(("RS256", "active"))
    okp = generate("EdDSA")
    impostor = KeyMaterial(kid=ring.signer("RS256").kid, alg="EdDSA", key=okp.key)
    forged = RingKey(
        material=impostor, state="active", jws_alg="EdDSA", published_at=NOW
    ).sign_compact(b'{"sub":"u"}', "at+jwt")
    with pytest.raises(VerificationError) as caught:
        ring.verify(forged, typ="at+jwt")
    assert caught.value.reason == "key_mismatch"


@pytest.mark.parametrize("alg", ["HS256", "ES256", "Ed25519", "rs256"])
def test_only_the_signing_algs_generate_keys(alg: str) -> None:
    with pytest.raises(ValueError, match="unsupported signing alg"):
        generate(alg)
