"""Valid tokens pass, sync and async, and come back as typed claims (RFC 9068 §2.2)."""

from __future__ import annotations

import warnings

import jwt as pyjwt
import pytest

from issuer.verify import AccessTokenClaims, Reason, VerificationError, Verifier

from .issuer_double import AUDIENCE, ISSUER_URL, Clock, IssuerHandle, SigningKey


def test_rs256_token_verifies_to_typed_claims(issuer: IssuerHandle, verifier: Verifier) -> None:
    claims = verifier.verify(issuer.mint("RS256"))
    assert isinstance(claims, AccessTokenClaims)
    assert claims.sub == "user-42"
    assert claims.client_id == "web-app"
    assert claims.aud == (AUDIENCE,)
    assert claims.scope == frozenset({"orders:read", "profile"})
    assert claims.roles == frozenset({"customer"})
    assert claims.sid == "family-1"
    assert claims.has_scopes("orders:read") and not claims.has_scopes("orders:write")


@pytest.mark.parametrize("header_alg", ["EdDSA", "Ed25519"])
def test_ed25519_key_verifies_under_both_names_without_warning(
    issuer: IssuerHandle, verifier: Verifier, keys: dict[str, SigningKey], header_alg: str
) -> None:
    token = issuer.mint(header_alg, key=keys["EdDSA"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # joserfc's SecurityWarning must not fire
        assert verifier.verify(token).sub == "user-42"


def test_ed25519_refused_when_the_caller_pins_rs256(issuer: IssuerHandle, clock: Clock) -> None:
    verifier = Verifier(
        issuer.issuer_url, AUDIENCE, algorithms=["RS256"], clock=clock, http_client=issuer.client()
    )
    with pytest.raises(VerificationError) as caught:
        verifier.verify(issuer.mint("EdDSA"))
    assert caught.value.reason is Reason.ALG_NOT_ALLOWED


async def test_async_verification(issuer: IssuerHandle, verifier: Verifier) -> None:
    claims = await verifier.averify(issuer.mint("EdDSA"))
    assert claims.iss == ISSUER_URL


def test_client_credentials_token_has_no_roles(issuer: IssuerHandle, verifier: Verifier) -> None:
    token = issuer.mint(sub="billing-service", client_id="billing-service", roles=None, sid=None)
    claims = verifier.verify(token)
    assert claims.roles == frozenset() and claims.sid is None


def test_audience_list_needs_one_match(issuer: IssuerHandle, verifier: Verifier) -> None:
    assert verifier.verify(issuer.mint(aud=["other", AUDIENCE])).aud == ("other", AUDIENCE)


def test_leeway_absorbs_small_clock_skew(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock
) -> None:
    token = issuer.mint(exp=int(clock()) + 5)
    clock.advance(10)  # 5 s past exp, inside the default 10 s leeway
    assert verifier.verify(token).sub == "user-42"
    clock.advance(6)
    with pytest.raises(VerificationError) as caught:
        verifier.verify(token)
    assert caught.value.reason is Reason.EXPIRED


def test_static_jwks_verifier_never_fetches(
    issuer: IssuerHandle, keys: dict[str, SigningKey], clock: Clock
) -> None:
    jwks = {"keys": [k.jwk for k in keys.values()]}
    verifier = Verifier.from_jwks(jwks, ISSUER_URL, AUDIENCE, clock=clock)
    assert verifier.verify(issuer.mint("RS256")).sub == "user-42"
    assert verifier.jwks_fetches == 0 and issuer.double.jwks_requests == 0


def test_interoperates_with_pyjwt_signed_tokens(keys: dict[str, SigningKey], clock: Clock) -> None:
    key = keys["RS256"]
    now = int(clock())
    claims = {"iss": ISSUER_URL, "sub": "s", "aud": AUDIENCE, "exp": now + 60, "iat": now}
    claims |= {"jti": "j", "client_id": "c"}
    token = pyjwt.encode(claims, key.private, "RS256", headers={"kid": key.kid, "typ": "at+jwt"})
    verifier = Verifier.from_jwks({"keys": [key.jwk]}, ISSUER_URL, AUDIENCE, clock=clock)
    assert verifier.verify(token).sub == "s"


@pytest.mark.parametrize(
    "kwargs",
    [{"algorithms": ["HS256"]}, {"algorithms": []}, {"algorithms": ["none"]}, {"audience": []}],
)
def test_unsafe_configuration_is_refused(kwargs: dict[str, object]) -> None:
    options: dict[str, object] = {"audience": AUDIENCE, **kwargs}
    with pytest.raises(ValueError):
        Verifier(ISSUER_URL, **options)  # type: ignore[arg-type]


def test_plain_http_issuer_is_refused_unless_loopback() -> None:
    with pytest.raises(ValueError):
        Verifier("http://issuer.example", AUDIENCE)
    assert Verifier("http://127.0.0.1:8000", AUDIENCE).issuer_url == "http://127.0.0.1:8000"
