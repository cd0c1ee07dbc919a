"""The signing algorithms are defined once, in issuer.jose.algs; every list is derived."""

from __future__ import annotations

from typing import get_args

import pytest

from issuer.jose.algs import ALG_KEY_TYPES, ALGS, JWS_ALGS, SIGNING_ALGS, SigningAlg, with_aliases


def test_the_signing_algs_are_the_literal_and_the_table_in_one_order() -> None:
    assert SIGNING_ALGS == get_args(SigningAlg) == tuple(ALGS) == ("RS256", "EdDSA")


def test_every_header_name_maps_to_the_key_type_of_its_alg() -> None:
    assert JWS_ALGS == {"RS256", "EdDSA", "Ed25519"}
    assert dict(ALG_KEY_TYPES) == {
        "RS256": ("RSA", None),
        "EdDSA": ("OKP", "Ed25519"),
        "Ed25519": ("OKP", "Ed25519"),
    }


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["RS256"], {"RS256"}),
        (["EdDSA"], {"EdDSA", "Ed25519"}),
        (["Ed25519"], {"EdDSA", "Ed25519"}),
        (["RS256", "Ed25519"], {"RS256", "EdDSA", "Ed25519"}),
        (["HS256", "none", "rs256"], set()),
        ([], set()),
    ],
)
def test_allowing_one_name_of_an_alg_allows_all_of_them(
    names: list[str], expected: set[str]
) -> None:
    """RFC 9864 §2: `Ed25519` and `EdDSA` are one signature over an Ed25519 key."""
    assert with_aliases(names) == expected
