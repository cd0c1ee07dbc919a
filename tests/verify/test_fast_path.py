"""The prepared-key fast path: each key verifies only the algs its own JWK allows, the
remembered header verdicts never stand in for a signature, and odd encodings are refused
exactly as before (the decoding itself: tests/jose/test_segments.py)."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from issuer.jose.jws import Parser
from issuer.jose.keys import VerificationKey, parse_jwks
from issuer.verify import Reason, VerificationError, Verifier

from .issuer_double import AUDIENCE, ISSUER_URL, Clock, IssuerHandle, SigningKey, b64, sign_token
from .test_malicious import CORPUS, Ctx


def _reason(verifier: Verifier, token: str) -> Reason:
    with pytest.raises(VerificationError) as caught:
        verifier.verify(token)
    return caught.value.reason


def _claims(clock: Clock) -> dict[str, object]:
    now = int(clock())
    return {
        "iss": ISSUER_URL,
        "sub": "s",
        "aud": AUDIENCE,
        "exp": now + 60,
        "iat": now,
        "jti": "j",
        "client_id": "c",
    }


def test_each_key_offers_checks_only_for_its_own_algs(keys: dict[str, SigningKey]) -> None:
    parsed = parse_jwks({"keys": [k.jwk for k in keys.values()]})
    assert set(parsed[keys["RS256"].kid].checks) == {"RS256"}
    assert set(parsed[keys["EdDSA"].kid].checks) == {"EdDSA", "Ed25519"}


def test_a_key_built_with_algs_its_type_cannot_verify_gets_no_check_for_them(
    keys: dict[str, SigningKey],
) -> None:
    """Even when a caller (the issuer's own ring) hands in the wrong alg list."""
    parsed = parse_jwks({"keys": [k.jwk for k in keys.values()]})
    rsa, okp = parsed[keys["RS256"].kid], parsed[keys["EdDSA"].kid]
    everything = frozenset({"RS256", "EdDSA", "Ed25519"})
    assert set(VerificationKey(rsa.kid, everything, rsa.key).checks) == {"RS256"}
    assert set(VerificationKey(okp.kid, everything, okp.key).checks) == {"EdDSA", "Ed25519"}
    assert not VerificationKey(rsa.kid, frozenset({"EdDSA"}), rsa.key).checks
    assert not VerificationKey(okp.kid, frozenset({"RS256"}), okp.key).checks


@pytest.mark.parametrize(
    ("header_alg", "kid_of", "signer"),
    [
        ("EdDSA", "RS256", "EdDSA"),
        ("Ed25519", "RS256", "EdDSA"),
        ("RS256", "EdDSA", "RS256"),
        ("EdDSA", "RS256", "RS256"),
        ("RS256", "EdDSA", "EdDSA"),
    ],
)
def test_rsa_key_never_verifies_eddsa_and_okp_key_never_rs256(
    keys: dict[str, SigningKey], clock: Clock, header_alg: str, kid_of: str, signer: str
) -> None:
    """Whoever signed it, a header naming the other family's alg is a key mismatch."""
    jwks = {"keys": [k.jwk for k in keys.values()]}
    verifier = Verifier.from_jwks(jwks, ISSUER_URL, AUDIENCE, clock=clock)
    header = {"alg": header_alg, "kid": keys[kid_of].kid, "typ": "at+jwt"}
    token = sign_token(header, _claims(clock), keys[signer])
    assert _reason(verifier, token) is Reason.KEY_MISMATCH


@pytest.mark.parametrize(
    ("family", "jwk_alg"),
    [("RS256", "RS384"), ("RS256", "EdDSA"), ("RS256", "HS256"), ("EdDSA", "RS256")],
)
def test_jwk_whose_alg_does_not_match_the_header_is_refused(
    keys: dict[str, SigningKey], clock: Clock, family: str, jwk_alg: str
) -> None:
    """The JWK's own alg binds the key: a token signed by it under another alg fails."""
    key = keys[family]
    jwks = {"keys": [key.jwk | {"alg": jwk_alg}]}
    assert parse_jwks(jwks) == {}  # no alg this key could verify is left
    verifier = Verifier.from_jwks(jwks, ISSUER_URL, AUDIENCE, clock=clock)
    header = {"alg": family, "kid": key.kid, "typ": "at+jwt"}
    assert _reason(verifier, sign_token(header, _claims(clock), key)) is Reason.UNKNOWN_KID


@pytest.mark.parametrize(("alg", "length"), [("RS256", 255), ("RS256", 257), ("EdDSA", 63)])
def test_signature_of_the_wrong_length_is_a_bad_signature(
    keys: dict[str, SigningKey], clock: Clock, alg: str, length: int
) -> None:
    key = keys[alg]
    verifier = Verifier.from_jwks({"keys": [key.jwk]}, ISSUER_URL, AUDIENCE, clock=clock)
    token = sign_token({"alg": alg, "kid": key.kid, "typ": "at+jwt"}, _claims(clock), key)
    signing_input = token.rsplit(".", 1)[0]
    assert verifier.verify(token).sub == "s"
    forged = f"{signing_input}.{b64(secrets.token_bytes(length))}"
    assert _reason(verifier, forged) is Reason.BAD_SIGNATURE


def test_eddsa_altered_payload_and_signature_are_refused(
    issuer: IssuerHandle, verifier: Verifier
) -> None:
    token = issuer.mint("EdDSA")
    assert verifier.verify(token).sub == "user-42"
    header, payload, signature = token.split(".")
    altered = json.loads(base64.urlsafe_b64decode(payload + "==")) | {"roles": ["admin"]}
    assert _reason(verifier, f"{header}.{b64(json.dumps(altered).encode())}.{signature}") is (
        Reason.BAD_SIGNATURE
    )
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[5] ^= 0x01
    assert _reason(verifier, f"{header}.{payload}.{b64(bytes(raw))}") is Reason.BAD_SIGNATURE


def test_whole_corpus_is_refused_after_the_headers_are_remembered(
    ctx: Ctx, verifier: Verifier, issuer: IssuerHandle
) -> None:
    """Valid tokens first, so their header segments are known; every attack still fails."""
    assert verifier.verify(issuer.mint("RS256")).sub == "user-42"
    assert verifier.verify(issuer.mint("EdDSA")).sub == "user-42"
    for name, build, reason in CORPUS:
        with pytest.raises(VerificationError) as caught:
            verifier.verify(build(ctx))
        assert caught.value.reason is reason, name
    assert verifier.verify(issuer.mint("RS256")).sub == "user-42"


def test_remembered_headers_are_bounded_and_refused_ones_are_not_kept(
    issuer: IssuerHandle, verifier: Verifier, spare_keys: dict[str, SigningKey], clock: Clock
) -> None:
    parser = verifier._parser
    for _ in range(3 * Parser.MAX_HEADERS):
        header = {"alg": "RS256", "kid": secrets.token_urlsafe(16), "typ": "at+jwt"}
        token = sign_token(header, _claims(clock), spare_keys["RS256"])
        assert _reason(verifier, token) is Reason.UNKNOWN_KID
        assert len(parser._accepted) <= Parser.MAX_HEADERS
    parser._accepted.clear()
    refused: list[tuple[dict[str, object], Reason]] = [
        ({"alg": "none"}, Reason.ALG_NOT_ALLOWED),
        ({"typ": "JWT"}, Reason.WRONG_TYP),
        ({"jku": "https://evil.test"}, Reason.FORBIDDEN_HEADER),
        ({"crit": ["exp"]}, Reason.UNSUPPORTED_CRIT),
    ]
    for bad, reason in refused * 2:
        assert _reason(verifier, issuer.mint(header=bad)) is reason
    assert parser._accepted == {}


def test_header_verdicts_belong_to_one_policy(
    issuer: IssuerHandle, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    """A header one verifier accepted means nothing to a verifier pinned differently."""
    jwks = {"keys": [k.jwk for k in keys.values()]}
    both = Verifier.from_jwks(jwks, ISSUER_URL, AUDIENCE, clock=clock)
    rsa_only = Verifier.from_jwks(jwks, ISSUER_URL, AUDIENCE, clock=clock, algorithms=["RS256"])
    token = issuer.mint("EdDSA")
    assert both.verify(token).sub == "user-42"
    assert _reason(rsa_only, token) is Reason.ALG_NOT_ALLOWED


def test_deeply_nested_payload_is_malformed_not_a_crash(
    ctx: Ctx, verifier: Verifier, keys: dict[str, SigningKey]
) -> None:
    nested = b"[" * 2400 + b"]" * 2400  # deeper than the interpreter's recursion limit
    signing_input = f"{b64(json.dumps(ctx.header()).encode())}.{b64(nested)}"
    token = f"{signing_input}.{b64(keys['RS256'].sign(signing_input.encode()))}"
    assert _reason(verifier, token) is Reason.MALFORMED
