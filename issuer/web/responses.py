"""Responses of the bare ASGI handlers (JWKS, token, introspection, userinfo), in one place.

Those handlers skip Litestar's response building on the hot paths; errors still go through
the exception handlers, which share `NO_STORE` with them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.exceptions import MethodNotAllowedException
from litestar.types import Scope, Send

__all__ = ["NO_STORE", "Headers", "require_method", "send_no_store", "send_response"]

Headers = list[tuple[bytes, bytes]]

# RFC 6749 §5.1: responses with tokens MUST carry Cache-Control: no-store.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_NO_STORE_JSON: Headers = [
    (b"content-type", b"application/json"),
    *((name.lower().encode(), value.encode()) for name, value in NO_STORE.items()),
]


async def send_response(send: Send, status: int, headers: Headers, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_no_store(send: Send, body: Any) -> None:
    """A 200 JSON response that no cache may keep (RFC 6749 §5.1, RFC 7662 §2.2)."""
    content = msgspec.json.encode(body)
    headers = [*_NO_STORE_JSON, (b"content-length", str(len(content)).encode())]
    await send_response(send, 200, headers, content)


def require_method(scope: Scope, *allowed: str) -> None:
    """Bare ASGI handlers see every method; the others get the usual JSON 405."""
    if scope.get("method") not in allowed:
        raise MethodNotAllowedException(headers={"Allow": ", ".join(allowed)})
