"""What the hosted pages keep in the browser, made tamper-evident with keys derived from the KEK.

- CSRF (signed double-submit, OWASP): the cookie holds 256 random bits, each form carries
  HMAC(csrf key, cookie value). A cross-site form cannot read the cookie to compute the
  token, and a cookie planted from a sibling domain has no token to go with it.
- The pending authorization request: the authorize parameters in a hidden form field,
  HMAC-sealed with an expiry and a purpose. It is only a carrier: the pages validate what
  it holds again (`authorization.validate`) on every submit, never trust it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from issuer.keyring.kek import derive_key

__all__ = ["PENDING_LIFETIME", "PageKeys", "page_keys"]

# How long a login, consent or logout page may stay open before its form is refused.
PENDING_LIFETIME = 1800
_TOKEN_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class PageKeys:
    """The CSRF and sealing keys of one KEK."""

    csrf_key: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)

    @staticmethod
    def new_csrf_cookie() -> str:
        return _b64(secrets.token_bytes(_TOKEN_BYTES))

    def csrf_token(self, cookie_value: str) -> str:
        """The form field that goes with a CSRF cookie value."""
        return _b64(hmac.digest(self.csrf_key, cookie_value.encode(), "sha256"))

    def csrf_ok(self, cookie_value: str | None, token: str | None) -> bool:
        if not cookie_value or not token or not token.isascii():
            return False
        return hmac.compare_digest(self.csrf_token(cookie_value).encode(), token.encode())

    def seal(self, purpose: str, params: dict[str, str], *, now: datetime) -> str:
        """`params` for `purpose` ("authorize", "logout"), valid for PENDING_LIFETIME s."""
        body = {"for": purpose, "exp": int(now.timestamp()) + PENDING_LIFETIME, "params": params}
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._mac(payload)}"

    def unseal(self, purpose: str, sealed: str | None, *, now: datetime) -> dict[str, str] | None:
        """The parameters sealed for `purpose`, or None: tampered, expired or another purpose."""
        payload, _, mac = (sealed or "").partition(".")
        if not payload or not payload.isascii():
            return None
        if not hmac.compare_digest(self._mac(payload).encode(), mac.encode()):
            return None
        raw = _unb64(payload)
        try:
            body = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("for") != purpose:
            return None
        expires, params = body.get("exp"), body.get("params")
        if not isinstance(expires, int) or expires <= now.timestamp():
            return None
        if not isinstance(params, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in params.items()
        ):
            return None
        return params

    def _mac(self, payload: str) -> str:
        return _b64(hmac.digest(self.seal_key, payload.encode(), "sha256"))


@cache
def page_keys(kek: bytes) -> PageKeys:
    """Derived once per KEK, as the refresh-token successor key is (`derive_key`)."""
    return PageKeys(
        csrf_key=derive_key(kek, b"issuer login-page csrf v1"),
        seal_key=derive_key(kek, b"issuer pending authorization v1"),
    )
