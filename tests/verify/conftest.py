"""Fixtures for the verifier tests: an injected clock, keys, and an issuer to verify against."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from issuer.verify import CachePolicy, Verifier

from .issuer_double import Clock, IssuerDouble, IssuerHandle, SigningKey, make_handle
from .test_malicious import Ctx

_KEYS = {alg: SigningKey.generate(alg) for alg in ("RS256", "EdDSA")}
_SPARE = {alg: SigningKey.generate(alg) for alg in ("RS256", "EdDSA")}
POLICY = CachePolicy(cooldown=30, stale_if_error=600)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys() -> dict[str, SigningKey]:
    """The active signing keys (generated once per session: RSA generation is slow)."""
    return dict(_KEYS)


@pytest.fixture
def spare_keys() -> dict[str, SigningKey]:
    """Keys the issuer has not published (yet): for rotation and wrong-key tests."""
    return dict(_SPARE)


@pytest.fixture
def issuer(clock: Clock, keys: dict[str, SigningKey]) -> IssuerHandle:
    """The issuer the verifier talks to. Swap for the real app here once it exists."""
    double = IssuerDouble(clock=clock, published=list(keys.values()))
    return make_handle(double, keys)


@pytest.fixture
def verifier(issuer: IssuerHandle, clock: Clock) -> Iterator[Verifier]:
    client, async_client = issuer.client(), issuer.async_client()
    yield Verifier(
        issuer.issuer_url,
        issuer.audience,
        clock=clock,
        cache=POLICY,
        http_client=client,
        async_http_client=async_client,
    )
    client.close()


@pytest.fixture
def ctx(
    issuer: IssuerHandle,
    keys: dict[str, SigningKey],
    spare_keys: dict[str, SigningKey],
    clock: Clock,
) -> Ctx:
    return Ctx(issuer, keys, spare_keys, int(clock()))
