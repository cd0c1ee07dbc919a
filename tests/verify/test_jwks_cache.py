"""The JWKS cache: max-age and ETag honoured, unknown kids refetched once per cool-down
(single-flight), rotation seen, stale keys served only up to the hard limit."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from issuer.verify import Reason, VerificationError, Verifier

from .conftest import POLICY
from .issuer_double import AUDIENCE, Clock, IssuerHandle, SigningKey, sign_token


def _reason(verifier: Verifier, token: str) -> Reason:
    with pytest.raises(VerificationError) as caught:
        verifier.verify(token)
    return caught.value.reason


def _random_kid_token(issuer: IssuerHandle, key: SigningKey) -> str:
    claims = {"iss": issuer.issuer_url, "sub": "x", "aud": AUDIENCE, "exp": 2**40, "iat": 0}
    header = {"alg": key.alg, "kid": secrets.token_urlsafe(32), "typ": "at+jwt"}
    return sign_token(header, claims | {"jti": "j", "client_id": "c"}, key)


def test_cached_jwks_serves_until_max_age(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock
) -> None:
    for _ in range(50):
        verifier.verify(issuer.mint())
        clock.advance(5)  # 250 s in all, inside max-age=300
    assert issuer.double.jwks_requests == 1


def test_expired_cache_revalidates_with_etag(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock
) -> None:
    verifier.verify(issuer.mint())
    clock.advance(301)
    verifier.verify(issuer.mint())
    assert issuer.double.jwks_requests == 2
    assert issuer.double.not_modified == 1  # 304: same keys, fresh again
    clock.advance(100)
    verifier.verify(issuer.mint())
    assert issuer.double.jwks_requests == 2


def test_unknown_kid_flood_costs_one_fetch_per_cooldown(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock, spare_keys: dict[str, SigningKey]
) -> None:
    verifier.verify(issuer.mint())  # warm cache: 1 fetch
    for _ in range(1000):
        assert _reason(verifier, _random_kid_token(issuer, spare_keys["RS256"])) is (
            Reason.UNKNOWN_KID
        )
    assert issuer.double.jwks_requests == 2  # the warm-up plus one refetch
    clock.advance(POLICY.cooldown)
    for _ in range(1000):
        _reason(verifier, _random_kid_token(issuer, spare_keys["EdDSA"]))
    assert issuer.double.jwks_requests == 3


@pytest.mark.parametrize(("warm", "expected"), [(False, 1), (True, 2)])
async def test_concurrent_unknown_kid_flood_is_single_flight(
    issuer: IssuerHandle,
    verifier: Verifier,
    spare_keys: dict[str, SigningKey],
    warm: bool,
    expected: int,
) -> None:
    """1,000 concurrent callers share one fetch, on a cold cache or a warm one."""
    if warm:
        await verifier.averify(issuer.mint())
    tokens = [_random_kid_token(issuer, spare_keys["EdDSA"]) for _ in range(1000)]
    results = await asyncio.gather(*(verifier.averify(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, VerificationError) and r.reason is Reason.UNKNOWN_KID for r in results)
    assert issuer.double.jwks_requests == expected
    assert verifier.jwks_fetches == expected


def test_new_key_verifies_after_one_refetch(
    issuer: IssuerHandle, verifier: Verifier, spare_keys: dict[str, SigningKey]
) -> None:
    verifier.verify(issuer.mint())
    new = spare_keys["EdDSA"]
    issuer.double.published.append(new)  # rotation: the new key is activated
    assert verifier.verify(issuer.mint("EdDSA", key=new)).sub == "user-42"
    assert issuer.double.jwks_requests == 2


def test_removed_key_fails_once_the_cache_expires(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    token = issuer.mint("RS256", exp=int(clock()) + 3600)
    verifier.verify(token)
    issuer.double.published.remove(keys["RS256"])  # revoked: gone from the JWKS
    clock.advance(299)
    assert verifier.verify(token).sub == "user-42"  # still cached, as max-age allows
    clock.advance(2)
    assert _reason(verifier, token) is Reason.UNKNOWN_KID
    assert issuer.double.jwks_requests == 2


def test_stale_keys_serve_while_issuer_is_down_until_the_hard_limit(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock
) -> None:
    token = issuer.mint(exp=int(clock()) + 7200)
    verifier.verify(token)
    issuer.double.down = True
    clock.advance(300 + POLICY.stale_if_error - 1)
    assert verifier.verify(token).sub == "user-42"
    clock.advance(2)
    assert _reason(verifier, token) is Reason.JWKS_UNAVAILABLE
    issuer.double.down = False
    clock.advance(POLICY.cooldown)
    assert verifier.verify(token).sub == "user-42"


def test_failed_refresh_is_retried_only_after_the_cooldown(
    issuer: IssuerHandle, verifier: Verifier, clock: Clock
) -> None:
    verifier.verify(issuer.mint())
    issuer.double.down = True
    clock.advance(301)
    attempts = verifier.jwks_fetches
    for _ in range(100):
        verifier.verify(issuer.mint())
    assert verifier.jwks_fetches == attempts + 1


def test_unreachable_issuer_on_cold_start(issuer: IssuerHandle, verifier: Verifier) -> None:
    issuer.double.down = True
    assert _reason(verifier, issuer.mint()) is Reason.JWKS_UNAVAILABLE


def test_discovery_naming_another_issuer_is_refused(issuer: IssuerHandle, clock: Clock) -> None:
    def lying(request: httpx.Request) -> httpx.Response:
        document = {"issuer": "https://evil.test", "jwks_uri": "https://evil.test/jwks"}
        return httpx.Response(200, json=document)

    client = httpx.Client(transport=httpx.MockTransport(lying))
    verifier = Verifier(issuer.issuer_url, AUDIENCE, clock=clock, http_client=client)
    assert _reason(verifier, issuer.mint()) is Reason.JWKS_UNAVAILABLE


@pytest.mark.parametrize(
    ("cache_control", "expected_fetches"),
    [("public, max-age=0", 2), ("no-store", 2), ("public, max-age=999999999", 1), ("", 1)],
)
def test_max_age_is_clamped(
    issuer: IssuerHandle,
    clock: Clock,
    cache_control: str,
    expected_fetches: int,
) -> None:
    """max-age=0 cannot turn each request into a fetch (min_ttl=10 s), nor can a huge value
    pin keys for ever (max_ttl=1 day); no header means the default 300 s."""
    real = issuer.double.handle

    def handle(request: httpx.Request) -> httpx.Response:
        response = real(request)
        response.headers["Cache-Control"] = cache_control
        return response

    client = httpx.Client(transport=httpx.MockTransport(handle))
    verifier = Verifier(issuer.issuer_url, AUDIENCE, clock=clock, http_client=client)
    for _ in range(9):
        verifier.verify(issuer.mint())
        clock.advance(1)
    clock.advance(290)  # 299 s after the first fetch
    verifier.verify(issuer.mint())
    assert issuer.double.jwks_requests == expected_fetches
