"""Client secrets: 256 random bits, shown once, stored as SHA-256, compared in constant time.

A secret with that much entropy needs no slow hash, and a slow hash on every client_credentials
request would cap throughput at a few dozen per second (docs/design.md, "Clients and users").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["generate_secret", "secret_digest", "secret_matches"]


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def secret_matches(secret: str, digest: bytes | None) -> bool:
    # Digest the presented secret even when there is nothing to compare, so that an unknown
    # or public client costs the same.
    presented = secret_digest(secret)
    return hmac.compare_digest(presented, digest or b"\0" * 32) and digest is not None
