"""Each HTTP request's id and its access-log line, around every route (the JWKS fast path,
404s and 405s included).

The id is the client's `X-Request-Id` when it is a sane token (so that a proxy's or a
caller's id follows the request through our logs), else a new random one; it is echoed in
the response's `X-Request-Id` and set in `issuer.logs.REQUEST_ID` for every record logged
while the request is served. With ISSUER_ACCESS_LOG on, one `issuer.access` record per
request: method, path (never the query string, which may carry a token), status, bytes sent,
duration and peer address.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from time import perf_counter

from litestar.types import Message, Scope, Send

from issuer.logs import REQUEST_ID
from issuer.web.responses import header

__all__ = ["REQUEST_ID_HEADER", "request_id_of", "serve_with_request_id"]

REQUEST_ID_HEADER = b"x-request-id"
# Ids from load balancers and tracers: UUIDs, hex, base64(url), `Root=1-…` style tokens.
_SANE_ID = re.compile(r"[A-Za-z0-9._~:/+=-]{1,128}")

access_log = logging.getLogger("issuer.access")


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-Id when it is a sane token, else a new one (128 random bits)."""
    presented = header(scope, REQUEST_ID_HEADER)
    if presented is not None and _SANE_ID.fullmatch(presented):
        return presented
    return secrets.token_hex(16)


async def serve_with_request_id(
    scope: Scope,
    send: Send,
    respond: Callable[[Send], Awaitable[None]],
    *,
    log_access: bool,
) -> None:
    """Run `respond` with the request's id in the log context and in the response headers."""
    request_id = request_id_of(scope)
    echoed = (b"x-request-id", request_id.encode())
    token = REQUEST_ID.set(request_id)
    started = perf_counter()
    status, sent = 500, 0

    async def send_with_id(message: Message) -> None:
        nonlocal status, sent
        if message["type"] == "http.response.start":
            status = message["status"]
            # A new list: the JWKS and protocol paths send header lists they built once.
            message = {**message, "headers": [*message.get("headers", ()), echoed]}
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
        await send(message)

    try:
        await respond(send_with_id)
    finally:
        if log_access:
            client = scope.get("client")
            access_log.info(
                "%s %s %d",
                scope.get("method", ""),
                scope.get("path", ""),
                status,
                extra={
                    "method": scope.get("method", ""),
                    "path": scope.get("path", ""),
                    "status": status,
                    "bytes": sent,
                    "duration_ms": round((perf_counter() - started) * 1000, 3),
                    "peer": client[0] if client else None,
                },
            )
        REQUEST_ID.reset(token)
