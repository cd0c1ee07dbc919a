"""The malicious corpus: every token here must be refused, each for its own reason
(RFC 8725 §2 lists the attacks; RFC 9068 §4 the checks)."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer.verify import Reason, VerificationError, Verifier

from .issuer_double import ISSUER_URL, IssuerHandle, SigningKey, b64, b64_json, sign_token


@dataclass
class Ctx:
    issuer: IssuerHandle
    keys: dict[str, SigningKey]
    spare: dict[str, SigningKey]
    now: int

    def header(self, alg: str = "RS256", key: str = "RS256", **extra: object) -> dict[str, object]:
        return {"alg": alg, "kid": self.keys[key].kid, "typ": "at+jwt", **extra}

    def claims(self) -> dict[str, object]:
        claims: dict[str, object] = json.loads(_unb64(self.issuer.mint().split(".")[1]))
        return claims


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _unsigned(alg: str) -> Callable[[Ctx], str]:
    def build(c: Ctx) -> str:
        return f"{b64_json(c.header(alg))}.{b64_json(c.claims())}."

    return build


def _hmac_with_public_key(alg: str, digest: str) -> Callable[[Ctx], str]:
    """The classic key-confusion attack: HMAC keyed with the RSA public key's PEM bytes."""

    def build(c: Ctx) -> str:
        public = c.keys["RS256"].private.public_key()
        secret = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        signing_input = f"{b64_json(c.header(alg))}.{b64_json(c.claims())}"
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        return f"{signing_input}.{b64(mac)}"

    return build


def _attacker_signed(**header: object) -> Callable[[Ctx], str]:
    """Signed by a key the issuer never published, pointing the verifier at it."""

    def build(c: Ctx) -> str:
        attacker = c.spare["RS256"]
        head = {"alg": "RS256", "kid": attacker.kid, "typ": "at+jwt", **header}
        return sign_token(head, c.claims(), attacker)

    return build


def _cross_alg(alg: str, kid_of: str, signer: str) -> Callable[[Ctx], str]:
    def build(c: Ctx) -> str:
        return sign_token(c.header(alg, kid_of), c.claims(), c.spare[signer])

    return build


def _mint(**overrides: object) -> Callable[[Ctx], str]:
    return lambda c: c.issuer.mint(**overrides)


def _timed(field: str, delta: int) -> Callable[[Ctx], str]:
    return lambda c: c.issuer.mint(**{field: c.now + delta})


def _splice(c: Ctx) -> str:
    a, b = c.issuer.mint(sub="alice"), c.issuer.mint(sub="mallory")
    return ".".join(b.split(".")[:2] + a.split(".")[2:])


def _altered_payload(c: Ctx) -> str:
    header, _, signature = c.issuer.mint().split(".")
    claims = c.claims() | {"roles": ["admin"]}
    return f"{header}.{b64_json(claims)}.{signature}"


def _altered_signature(c: Ctx) -> str:
    header, payload, signature = c.issuer.mint().split(".")
    raw = bytearray(_unb64(signature))
    raw[10] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def _stripped(c: Ctx) -> str:
    return c.issuer.mint().rsplit(".", 1)[0] + "."


def _wrong_key_right_kid(c: Ctx) -> str:
    return sign_token(c.header(), c.claims(), c.spare["RS256"])


def _refresh_token(c: Ctx) -> str:
    # The issuer's refresh tokens: typ rt+jwt, aud = the issuer itself.
    return c.issuer.mint(typ="rt+jwt", aud=ISSUER_URL, scope=None, roles=None)


def _raw_header(header: bytes) -> Callable[[Ctx], str]:
    return lambda c: f"{b64(header)}.{c.issuer.mint().split('.', 1)[1]}"


CORPUS: list[tuple[str, Callable[[Ctx], str], Reason]] = [
    ("alg-none", _unsigned("none"), Reason.ALG_NOT_ALLOWED),
    ("alg-None", _unsigned("None"), Reason.ALG_NOT_ALLOWED),
    ("alg-NONE", _unsigned("NONE"), Reason.ALG_NOT_ALLOWED),
    ("alg-nOnE", _unsigned("nOnE"), Reason.ALG_NOT_ALLOWED),
    (
        "alg-rs256-lowercase",
        lambda c: c.issuer.mint(header={"alg": "rs256"}),
        Reason.ALG_NOT_ALLOWED,
    ),
    ("hs256-public-key", _hmac_with_public_key("HS256", "sha256"), Reason.ALG_NOT_ALLOWED),
    ("hs512-public-key", _hmac_with_public_key("HS512", "sha512"), Reason.ALG_NOT_ALLOWED),
    ("alg-missing", lambda c: c.issuer.mint(header={"alg": None}), Reason.ALG_NOT_ALLOWED),
    ("unknown-kid", _attacker_signed(), Reason.UNKNOWN_KID),
    ("kid-missing", lambda c: c.issuer.mint(header={"kid": None}), Reason.UNKNOWN_KID),
    ("kid-not-string", lambda c: c.issuer.mint(header={"kid": 7}), Reason.UNKNOWN_KID),
    (
        "embedded-jwk",
        lambda c: _attacker_signed(jwk=c.spare["RS256"].jwk)(c),
        Reason.FORBIDDEN_HEADER,
    ),
    ("jku", _attacker_signed(jku="https://evil.test/jwks.json"), Reason.FORBIDDEN_HEADER),
    ("x5u", _attacker_signed(x5u="https://evil.test/cert.pem"), Reason.FORBIDDEN_HEADER),
    ("x5c", _attacker_signed(x5c=["MIIB"]), Reason.FORBIDDEN_HEADER),
    ("eddsa-header-on-rsa-kid", _cross_alg("EdDSA", "RS256", "EdDSA"), Reason.KEY_MISMATCH),
    ("ed25519-header-on-rsa-kid", _cross_alg("Ed25519", "RS256", "EdDSA"), Reason.KEY_MISMATCH),
    ("rs256-header-on-okp-kid", _cross_alg("RS256", "EdDSA", "RS256"), Reason.KEY_MISMATCH),
    ("expired", _timed("exp", -60), Reason.EXPIRED),
    ("not-yet-valid", _timed("nbf", 600), Reason.NOT_YET_VALID),
    ("issued-in-future", _timed("iat", 600), Reason.ISSUED_IN_FUTURE),
    ("wrong-iss", _mint(iss="https://evil.test"), Reason.WRONG_ISSUER),
    ("iss-trailing-slash", _mint(iss=ISSUER_URL + "/"), Reason.WRONG_ISSUER),
    ("wrong-aud", _mint(aud="billing-api"), Reason.WRONG_AUDIENCE),
    ("aud-list-without-us", _mint(aud=["billing-api", "x"]), Reason.WRONG_AUDIENCE),
    ("refresh-token-as-access-token", _refresh_token, Reason.WRONG_TYP),
    ("typ-jwt", _mint(typ="JWT"), Reason.WRONG_TYP),
    ("typ-missing", lambda c: c.issuer.mint(header={"typ": None}), Reason.WRONG_TYP),
    ("stripped-signature", _stripped, Reason.BAD_SIGNATURE),
    ("spliced-signature", _splice, Reason.BAD_SIGNATURE),
    ("altered-payload", _altered_payload, Reason.BAD_SIGNATURE),
    ("altered-signature", _altered_signature, Reason.BAD_SIGNATURE),
    ("other-key-same-kid", _wrong_key_right_kid, Reason.BAD_SIGNATURE),
    ("crit-unknown", _mint(header={"crit": ["exp"], "exp": 1}), Reason.UNSUPPORTED_CRIT),
    ("b64-false", _mint(header={"b64": False, "crit": ["b64"]}), Reason.UNSUPPORTED_CRIT),
    ("oversized", _mint(pad="x" * 10_000), Reason.OVERSIZED),
    ("non-base64-header", lambda c: "!!!." + c.issuer.mint().split(".", 1)[1], Reason.MALFORMED),
    ("padded-segment", lambda c: c.issuer.mint().replace(".", "=.", 1), Reason.MALFORMED),
    ("non-base64-signature", lambda c: c.issuer.mint() + "*", Reason.MALFORMED),
    ("two-segments", lambda c: c.issuer.mint().rsplit(".", 1)[0], Reason.MALFORMED),
    ("jwe-five-segments", lambda c: c.issuer.mint() + ".a.b", Reason.MALFORMED),
    ("header-not-object", _raw_header(b'["RS256"]'), Reason.MALFORMED),
    ("header-not-json", _raw_header(b"{alg: RS256"), Reason.MALFORMED),
    ("non-ascii", lambda c: c.issuer.mint() + "\u00e9", Reason.MALFORMED),
    ("empty", lambda c: "", Reason.MALFORMED),
    ("missing-client-id", _mint(client_id=None), Reason.MISSING_CLAIM),
    ("missing-jti", _mint(jti=None), Reason.MISSING_CLAIM),
    ("missing-exp", _mint(exp=None), Reason.MISSING_CLAIM),
    ("exp-as-string", lambda c: c.issuer.mint(exp=str(c.now + 60)), Reason.INVALID_CLAIM),
    ("exp-as-bool", _mint(exp=True), Reason.INVALID_CLAIM),
    ("roles-as-string", _mint(roles="admin"), Reason.INVALID_CLAIM),
    ("scope-as-list", _mint(scope=["orders:read"]), Reason.INVALID_CLAIM),
]


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25
    assert len({name for name, _, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("build", "reason"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_malicious_token_is_refused(
    ctx: Ctx, verifier: Verifier, build: Callable[[Ctx], str], reason: Reason
) -> None:
    with pytest.raises(VerificationError) as caught:
        verifier.verify(build(ctx))
    assert caught.value.reason is reason, caught.value


async def test_whole_corpus_is_refused_async(ctx: Ctx, verifier: Verifier) -> None:
    for name, build, reason in CORPUS:
        with pytest.raises(VerificationError) as caught:
            await verifier.averify(build(ctx))
        assert caught.value.reason is reason, name


def test_nan_dates_are_not_json(ctx: Ctx, verifier: Verifier) -> None:
    raw = json.dumps(ctx.claims() | {"exp": float("nan")}).encode()
    signing_input = f"{b64_json(ctx.header())}.{b64(raw)}"
    token = f"{signing_input}.{b64(ctx.keys['RS256'].sign(signing_input.encode()))}"
    with pytest.raises(VerificationError) as caught:
        verifier.verify(token)
    assert caught.value.reason is Reason.MALFORMED


def test_tokens_refused_without_touching_the_network_are_cheap(
    ctx: Ctx, verifier: Verifier
) -> None:
    """Header-policy failures are decided before any key lookup, so they cost no fetch."""
    for build in (_unsigned("none"), _hmac_with_public_key("HS256", "sha256")):
        with pytest.raises(VerificationError):
            verifier.verify(build(ctx))
    assert verifier.jwks_fetches == 0


def _signed_raw(ctx: Ctx, name: str, number: str) -> str:
    """A properly signed token whose claim `name` is the JSON number text `number`."""
    claims = ctx.claims() | {name: 0}
    raw = json.dumps(claims).replace(f'"{name}": 0', f'"{name}": {number}').encode()
    signing_input = f"{b64_json(ctx.header())}.{b64(raw)}"
    return f"{signing_input}.{b64(ctx.keys['RS256'].sign(signing_input.encode()))}"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_dates_beyond_float_range_are_invalid_claims_not_overflows(
    ctx: Ctx, verifier: Verifier, name: str, number: str
) -> None:
    """Python reads 1e400 as infinity; `int()` of it used to escape as OverflowError."""
    with pytest.raises(VerificationError) as caught:
        verifier.verify(_signed_raw(ctx, name, number))
    assert caught.value.reason is Reason.INVALID_CLAIM, caught.value


@pytest.mark.parametrize(
    ("name", "number", "reason"),
    [
        ("exp", "-" + "9" * 400, Reason.EXPIRED),
        ("nbf", "9" * 400, Reason.NOT_YET_VALID),
        ("iat", "9" * 400, Reason.ISSUED_IN_FUTURE),
    ],
)
def test_integer_dates_beyond_float_range_are_compared_not_overflowed(
    ctx: Ctx, verifier: Verifier, name: str, number: str, reason: Reason
) -> None:
    with pytest.raises(VerificationError) as caught:
        verifier.verify(_signed_raw(ctx, name, number))
    assert caught.value.reason is reason, caught.value


def test_an_integer_exp_beyond_float_range_is_a_date_far_ahead(
    ctx: Ctx, verifier: Verifier
) -> None:
    assert verifier.verify(_signed_raw(ctx, "exp", "9" * 400)).exp == int("9" * 400)
