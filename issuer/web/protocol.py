"""`protocol_endpoint`: the one way to write token, introspection, userinfo and revocation.

In the spirit of starlette's `request_response`, an endpoint is `async def f(request) ->
body` and the adapter makes it the ASGI handler. No Litestar request, parameter parsing or
response object on the way (they were a fifth of a token request's cost; userinfo served
ten times as many requests without them), and every protocol endpoint behaves the same:

- methods: any other method is the usual JSON 405 with `Allow`;
- body: `await request.form()` reads at most ISSUER_MAX_BODY_BYTES (413 beyond), then parses
  a strict form (RFC 6749 Appendix B);
- response: the body returned is sent as JSON with `Cache-Control: no-store` (RFC 6749 §5.1,
  RFC 7662 §2.2) and the security headers (`issuer.web.responses.security_headers`), from
  header lists built once; `None` is an empty 200 (RFC 7009 §2.2);
- errors: whatever the endpoint raises goes to the app's exception handlers
  (`issuer.web.errors`), as on every Litestar route: `OAuthError` → RFC 6749 §5.2 JSON (and
  RFC 6750 `WWW-Authenticate`), a lost database → 503 with Retry-After, a bug → 500;
- dispatch: `IssuerApp` answers the endpoint's own methods before Litestar's routing
  (`BARE_METHODS` in the handler's `opt`); the route serves every other method (405) and
  documents the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import msgspec
from litestar import asgi
from litestar.exceptions import ClientException, HTTPException, MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send

from issuer.oauth.forms import Form, parse_form
from issuer.oauth.server import AuthorizationServer
from issuer.proxies import client_address
from issuer.web.deps import runtime_of
from issuer.web.responses import (
    NO_STORE,
    Headers,
    encode_headers,
    header,
    security_headers,
    send_response,
)

__all__ = ["BARE_HANDLER", "BARE_METHODS", "Endpoint", "ProtocolRequest", "protocol_endpoint"]

# The `opt` keys of a route handler `IssuerApp` answers before routing: the methods, and for
# an HTTP route the ASGI function that answers them (it may return False to be routed).
BARE_METHODS = "bare_methods"
BARE_HANDLER = "bare_handler"


@cache
def _response_headers(issuer_url: str) -> tuple[Headers, Headers]:
    """The JSON and the empty 200's headers, built once per issuer URL."""
    common = encode_headers({**NO_STORE, **security_headers(issuer_url)})
    return (
        [(b"content-type", b"application/json"), *common],
        [*common, (b"content-length", b"0")],
    )


class ProtocolRequest:
    """What a protocol endpoint reads: the authorization server, headers, peer and form."""

    __slots__ = ("_receive", "scope", "server")

    def __init__(self, scope: Scope, receive: Receive, server: AuthorizationServer) -> None:
        self.scope = scope
        self.server = server
        self._receive = receive

    @property
    def authorization(self) -> str | None:
        return header(self.scope, b"authorization")

    @property
    def address(self) -> str:
        """The peer, or the client behind it if the peer is one of ISSUER_TRUSTED_PROXIES."""
        client = self.scope.get("client")
        forwarded = header(self.scope, b"x-forwarded-for")
        return client_address(
            client[0] if client else None,
            () if forwarded is None else (forwarded,),
            self.server.settings.trusted_proxies,
        )

    async def form(self) -> Form:
        """The body as a strict form; too large a body is a 413 before it is all read."""
        limit = self.server.settings.max_body_bytes
        declared = header(self.scope, b"content-length") or ""
        if declared.isdigit() and int(declared) > limit:
            raise HTTPException(status_code=413, detail="the request body is too large")
        chunks, size = [], 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientException("the client went away before the body was read")
            chunk = message.get("body", b"")
            if not isinstance(chunk, bytes):
                raise ClientException("the request body is malformed")
            size += len(chunk)
            if size > limit:
                raise HTTPException(status_code=413, detail="the request body is too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return parse_form(b"".join(chunks), header(self.scope, b"content-type"))


Endpoint = Callable[[ProtocolRequest], Awaitable[Any]]


def protocol_endpoint(path: str, *methods: str) -> Callable[[Endpoint], ASGIRouteHandler]:
    """`@protocol_endpoint("/oauth/token", "POST")` over `async def token(request) -> body`."""
    allow = ", ".join(methods)

    def decorate(endpoint: Endpoint) -> ASGIRouteHandler:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get("method") not in methods:
                raise MethodNotAllowedException(headers={"Allow": allow})
            server = runtime_of(scope).server
            body = await endpoint(ProtocolRequest(scope, receive, server))
            json_headers, empty_headers = _response_headers(server.settings.url)
            if body is None:
                await send_response(send, 200, empty_headers)
                return
            content = msgspec.json.encode(body)
            length = (b"content-length", str(len(content)).encode())
            await send_response(send, 200, [*json_headers, length], content)

        handle.__name__, handle.__qualname__ = endpoint.__name__, endpoint.__qualname__
        handle.__doc__ = endpoint.__doc__
        return asgi(path, copy_scope=False, opt={BARE_METHODS: methods})(handle)

    return decorate
