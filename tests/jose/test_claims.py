"""RFC 9068 §4 claim checks with an injected clock and leeway."""

from __future__ import annotations

from typing import Any

import pytest

from issuer.jose.claims import validate_claims
from issuer.jose.errors import Reason, VerificationError

NOW = 1_800_000_000
ISSUER = "https://id.example"


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "s",
        "aud": "api",
        "client_id": "c",
        "exp": NOW + 60,
        "iat": NOW,
        "jti": "j",
    }
    return claims | overrides


def _reason(claims: dict[str, Any], *, now: float = NOW, leeway: float = 5) -> Reason:
    with pytest.raises(VerificationError) as caught:
        validate_claims(claims, issuer=ISSUER, audiences=("api",), now=now, leeway=leeway)
    return caught.value.reason


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_date_is_an_invalid_claim(name: str, value: float) -> None:
    assert _reason(_claims(**{name: value})) is Reason.INVALID_CLAIM


def test_the_leeway_is_counted_on_each_side_of_the_window() -> None:
    check = validate_claims
    inside = _claims(exp=NOW - 4, nbf=NOW + 4, iat=NOW + 4)
    assert check(inside, issuer=ISSUER, audiences=["api"], now=NOW, leeway=5).exp == NOW - 4
    assert _reason(_claims(exp=NOW - 5)) is Reason.EXPIRED
    assert _reason(_claims(nbf=NOW + 6)) is Reason.NOT_YET_VALID
    assert _reason(_claims(iat=NOW + 6)) is Reason.ISSUED_IN_FUTURE


def test_a_float_date_is_read_as_its_whole_seconds() -> None:
    claims = validate_claims(
        _claims(exp=NOW + 60.9), issuer=ISSUER, audiences=["api"], now=NOW, leeway=0
    )
    assert claims.exp == NOW + 60
