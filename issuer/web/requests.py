"""What every HTTP request gets, in one ASGI wrapper around every route (the bare paths,
404s and 405s included): its id, its body deadline, its latency metric and its access-log
line. One wrapper, not a middleware each: on the hot paths the layers cost more than the
work they wrap.

- The id is the client's `X-Request-Id` when it is a sane token (so that a proxy's or a
  caller's id follows the request through our logs), else a new random one; it is echoed in
  the response's `X-Request-Id` and set in `issuer.logs.REQUEST_ID` for every record logged
  while the request is served.
- A request that has a body must deliver it within ISSUER_BODY_READ_TIMEOUT_SECONDS
  (`issuer.web.body_timeout`); a request without one reads nothing and is not wrapped.
- The latency histogram is labelled with the route template (`path_template`, set by the
  router or by the bare dispatch; "unmatched" for a 404) and the status class.
- With ISSUER_ACCESS_LOG on, one `issuer.access` record per request: method, path (never
  the query string, which may carry a token), status, bytes sent, duration and peer address.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from random import getrandbits
from time import perf_counter

from litestar.types import Message, Receive, Scope, Send

from issuer.logs import REQUEST_ID
from issuer.web.body_timeout import receive_by_deadline
from issuer.web.metrics import observe_request

__all__ = ["REQUEST_ID_HEADER", "Respond", "serve_request"]

REQUEST_ID_HEADER = b"x-request-id"
# Ids from load balancers and tracers: UUIDs, hex, base64(url), `Root=1-…` style tokens.
_SANE_ID = re.compile(r"[A-Za-z0-9._~:/+=-]{1,128}")
# A request has a body when it says so (RFC 9112 §6.3): a length above zero, or chunked.
_BODY_HEADERS = frozenset((b"content-length", b"transfer-encoding"))

access_log = logging.getLogger("issuer.access")

Respond = Callable[[Scope, Receive, Send], Awaitable[None]]


def _read_headers(scope: Scope) -> tuple[str, bool]:
    """The request's id (the client's X-Request-Id when it is a sane token, else 128 new
    random bits, hex), and whether it has a body: one pass over the headers."""
    presented: str | None = None
    has_body = False
    for name, value in scope["headers"]:  # ASGI: names in lower case
        if name == REQUEST_ID_HEADER:
            presented = value.decode("latin-1")
        elif name in _BODY_HEADERS and value.strip() not in (b"", b"0"):
            has_body = True
    if presented is None or not _SANE_ID.fullmatch(presented):
        # An id only has to be unique, not unguessable: no system call per request.
        presented = f"{getrandbits(128):032x}"
    return presented, has_body


async def serve_request(
    scope: Scope,
    receive: Receive,
    send: Send,
    respond: Respond,
    *,
    body_read_timeout: float,
    log_access: bool,
) -> None:
    """Run `respond` with the request's id in the log context and the response headers, its
    body read by the deadline, and its latency (and access line) recorded."""
    started = perf_counter()
    request_id, has_body = _read_headers(scope)
    echoed = (REQUEST_ID_HEADER, request_id.encode())
    token = REQUEST_ID.set(request_id)
    status, sent = 500, 0

    async def send_with_id(message: Message) -> None:
        nonlocal status, sent
        if message["type"] == "http.response.start":
            status = message["status"]
            # A new list: the JWKS and protocol paths send header lists they built once.
            message = {**message, "headers": [*message.get("headers", ()), echoed]}
        elif log_access and message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
        await send(message)

    if has_body:
        receive = receive_by_deadline(receive, body_read_timeout)
    try:
        await respond(scope, receive, send_with_id)
    finally:
        duration = perf_counter() - started
        observe_request(scope.get("path_template") or "unmatched", status, duration)
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
                    "duration_ms": round(duration * 1000, 3),
                    "peer": client[0] if client else None,
                },
            )
        REQUEST_ID.reset(token)
