"""Bare-ASGI plumbing shared by the protocol endpoints and the JWKS fast path.

Those paths skip Litestar's request and response objects; their errors still go through
the exception handlers (`issuer.web.errors`), which share `NO_STORE` with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from http.cookies import _unquote as unquote_cookie
from urllib.parse import unquote

from litestar.types import Scope, Send

__all__ = [
    "HSTS",
    "NO_STORE",
    "SECURITY_HEADERS",
    "Headers",
    "cookie",
    "encode_headers",
    "header",
    "security_headers",
    "send_response",
]

Headers = list[tuple[bytes, bytes]]

# RFC 6749 §5.1: responses with tokens MUST carry Cache-Control: no-store.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# On every response: no MIME sniffing (a JSON body is never run as a script or page), and
# never framed (RFC 7034 X-Frame-Options; CSP frame-ancestors for current browsers).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
# RFC 6797: browsers keep to https for a year; sent only when ISSUER_URL is https (on http
# it would be ignored, RFC 6797 §7.2, and says nothing true).
HSTS = {"Strict-Transport-Security": "max-age=31536000"}


@cache
def security_headers(issuer_url: str) -> dict[str, str]:
    """The headers every response carries, for an issuer at `issuer_url` (computed once)."""
    return {**SECURITY_HEADERS, **(HSTS if issuer_url.startswith("https://") else {})}


def encode_headers(headers: dict[str, str]) -> Headers:
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


def header(scope: Scope, name: bytes) -> str | None:
    """A request header (`name` in lower case); repeated lines joined as RFC 9110 §5.3 says."""
    headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
    values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
    return ", ".join(values) if values else None


def cookie(scope: Scope, name: str) -> str | None:
    """A request cookie's value (RFC 6265 §5.4 `Cookie` pairs), decoded as Litestar's
    `request.cookies` decodes it; the last of that name."""
    found = None
    for key, value in scope["headers"]:
        if key.lower() != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            pair_name, equals, pair_value = pair.partition("=")
            if equals and pair_name.strip() == name:
                found = unquote(unquote_cookie(pair_value.strip()))
    return found


async def send_response(send: Send, status: int, headers: Headers, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
