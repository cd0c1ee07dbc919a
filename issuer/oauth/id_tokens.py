"""ID tokens (OpenID Connect Core §2, §3.1.3.6): the claims, `at_hash`, and the `typ`.

Signed by the minter (`Minter.id_token`) with the client's `id_token_alg` through the same
key ring as access tokens; `typ: JWT` (RFC 7519 §5.1) keeps them apart from access tokens
(`at+jwt`), which every verifier of ours and every RFC 9068 resource server requires.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from issuer.jose.algs import SigningAlg

__all__ = ["DEFAULT_ID_TOKEN_ALG", "TYP_ID_TOKEN", "at_hash", "id_token_claims"]

TYP_ID_TOKEN = "JWT"  # noqa: S105 (a JOSE typ, not a secret)
# OpenID Connect Core §3.1.3.7: RS256 unless the client registered another alg; every OIDC
# client must support it.
DEFAULT_ID_TOKEN_ALG: SigningAlg = "RS256"  # noqa: S105 (an alg name, not a secret)

# OpenID Connect Core §3.1.3.6: the hash of the alg the ID token's JOSE header names. For
# EdDSA over Ed25519 (and its RFC 9864 name) that is SHA-512, as for the curve's signatures.
_AT_HASH = {"RS256": hashlib.sha256, "EdDSA": hashlib.sha512, "Ed25519": hashlib.sha512}


def at_hash(access_token: str, jws_alg: str) -> str:
    """OpenID Connect Core §3.1.3.6: base64url of the left-most half of the hash of the
    ASCII access token, with the hash of the ID token's `alg`."""
    digest = _AT_HASH[jws_alg](access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def id_token_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    iat: int,
    exp: int,
    auth_time: int,
    nonce: str | None,
    at_hash: str,
    sid: str,
    email: str | None = None,
    email_verified: bool | None = None,
) -> dict[str, Any]:
    """OpenID Connect Core §2: iss, sub, aud, exp, iat REQUIRED; auth_time (asked for with
    max_age, given always), nonce (echoed when the request had one), at_hash (code flow),
    sid (Front-Channel Logout §3: the browser session); the email claims (§5.4) when the
    `email` scope was granted (`email` given)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "exp": exp,
        "iat": iat,
        "auth_time": auth_time,
        "at_hash": at_hash,
        "sid": sid,
    }
    if nonce is not None:
        # §3.1.3.7: the nonce MUST be the value sent in the authentication request.
        claims["nonce"] = nonce
    if email is not None:
        claims["email"] = email
        claims["email_verified"] = bool(email_verified)
    return claims
