"""PKCE (RFC 7636) with the S256 method only; `plain` is refused (OAuth 2.1 §4.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["METHOD", "challenge_of", "is_challenge", "is_verifier", "verifies"]

METHOD = "S256"
# RFC 7636 §4.1: code-verifier = 43*128unreserved.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)), 32 bytes, so exactly 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def challenge_of(verifier: str) -> str:
    """RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def is_challenge(value: str) -> bool:
    return _CHALLENGE.fullmatch(value) is not None


def is_verifier(value: str) -> bool:
    return _VERIFIER.fullmatch(value) is not None


def verifies(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: the verifier's S256 transform equals the stored challenge, compared in
    constant time (the challenge is public, but the comparison costs the same anyway)."""
    if not is_verifier(verifier):
        return False
    return hmac.compare_digest(challenge_of(verifier).encode(), challenge.encode())
