import os
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from issuer.keyring.material import (
    KeyDecryptionError,
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
