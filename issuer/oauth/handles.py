"""Opaque refresh tokens: `rt_` and 256 random bits (base64url), known to the store by digest.

A refresh token is a handle, not a JWT: nothing outside the issuer can verify it, and no
generic JWT library can mistake it for an access token. The database keeps only its SHA-256
digest (hex), so a copy of the tables cannot refresh. A rotation's successor is derived from
the consumed token with an HMAC under a key derived from the KEK (`successor_key`): a
grace-period replay recomputes the same successor, which is never stored in clear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from issuer.keyring.kek import derive_key

__all__ = ["PREFIX", "digest", "new_refresh_token", "parse", "successor", "successor_key"]

PREFIX = "rt_"
_BYTES = 32
_LENGTH = len(PREFIX) + 43  # 32 bytes in unpadded base64url


def _encode(raw: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_refresh_token() -> str:
    return _encode(secrets.token_bytes(_BYTES))


def digest(token: str) -> str:
    """What the store knows a refresh token by: SHA-256, hex (64 characters)."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse(token: str) -> str | None:
    """The digest of a well-formed refresh token (prefix, 32 bytes, canonical), else None."""
    if len(token) != _LENGTH or not token.startswith(PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX) :] + "=")
    except (binascii.Error, ValueError):
        return None
    return digest(token) if _encode(raw) == token else None


def successor_key(kek: bytes) -> bytes:
    """The server key successors are derived under, derived from the KEK for this use only."""
    return derive_key(kek, b"issuer refresh-token successor v1")


def successor(key: bytes, token: str) -> str:
    """The refresh token that replaces `token` when it is rotated; the same every time."""
    return _encode(hmac.digest(key, token.encode(), "sha256"))
