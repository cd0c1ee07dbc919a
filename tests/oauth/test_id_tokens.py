"""ID token claims and at_hash (OpenID Connect Core §2, §3.1.3.6)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from issuer.oauth.id_tokens import at_hash, id_token_claims

# OpenID Connect Core 1.0, Appendix A.4 (code id_token token): access_token and its at_hash.
SPEC_ACCESS_TOKEN = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"


def test_at_hash_matches_the_specifications_example() -> None:
    assert at_hash(SPEC_ACCESS_TOKEN, "RS256") == "77QmUPtjPfzWtF2AnpK9RQ"


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_at_hash_of_an_ed25519_id_token_is_the_left_half_of_sha512(alg: str) -> None:
    half = hashlib.sha512(SPEC_ACCESS_TOKEN.encode()).digest()[:32]
    assert at_hash(SPEC_ACCESS_TOKEN, alg) == base64.urlsafe_b64encode(half).rstrip(b"=").decode()
    assert len(at_hash(SPEC_ACCESS_TOKEN, alg)) == 43


def test_claims_leave_out_what_was_not_asked_for() -> None:
    common = {
        "issuer": "https://id.example.com",
        "subject": "u-1",
        "client_id": "spa",
        "iat": 100,
        "exp": 1000,
        "auth_time": 50,
        "at_hash": "h",
        "sid": "s",
    }
    bare = id_token_claims(nonce=None, **common)  # type: ignore[arg-type]
    assert bare == {
        "iss": "https://id.example.com",
        "sub": "u-1",
        "aud": "spa",
        "exp": 1000,
        "iat": 100,
        "auth_time": 50,
        "at_hash": "h",
        "sid": "s",
    }
    full = id_token_claims(nonce="n", email="a@example.com", **common)  # type: ignore[arg-type]
    assert (full["nonce"], full["email"], full["email_verified"]) == ("n", "a@example.com", False)
