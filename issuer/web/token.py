"""POST /oauth/token (RFC 6749 §3.2): parse the form, hand it to the authorization server."""

from __future__ import annotations

from typing import Any

from litestar import Request, asgi
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException
from litestar.types import Receive, Scope, Send

from issuer import proxies
from issuer.oauth.forms import Form, parse_form
from issuer.oauth.server import AuthorizationServer
from issuer.runtime import Runtime
from issuer.web.responses import require_method, send_no_store

__all__ = ["ROUTES", "authorization_server", "read_form", "token"]


def authorization_server(state: State) -> AuthorizationServer:
    """The app's one AuthorizationServer (client cache, throttle), made on first use.

    The protocol handlers take it from the app state rather than by dependency injection:
    resolving a dependency is a measurable share of a token request.
    """
    server: AuthorizationServer | None = state.get("authorization_server")
    if server is None:
        runtime: Runtime = state.runtime
        server = AuthorizationServer(
            settings=runtime.settings,
            database=runtime.database,
            keys=runtime.keys,
            clock=runtime.clock,
        )
        state.authorization_server = server
    return server


async def read_form(request: Request[Any, Any, Any]) -> Form:
    """The body as a strict form; too large a body is a 413 before it is all read."""
    runtime: Runtime = request.app.state.runtime
    limit = runtime.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail="the request body is too large")
    chunks, size = [], 0
    while True:
        message = await request.receive()
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
    return parse_form(b"".join(chunks), request.headers.get("content-type"))


def client_address(request: Request[Any, Any, Any]) -> str:
    """The peer, or the client behind it if it is one of ISSUER_TRUSTED_PROXIES."""
    trusted = request.app.state.runtime.settings.trusted_proxies
    peer = request.client.host if request.client else None
    return proxies.client_address(peer, request.headers.getall("x-forwarded-for", []), trusted)


@asgi("/oauth/token", copy_scope=False)
async def token(scope: Scope, receive: Receive, send: Send) -> None:
    """Token endpoint (RFC 6749 §3.2).

    A bare ASGI handler: the most requested endpoint after the JWKS, and the framework's
    parameter parsing and response building were a fifth of its cost. Errors still go through
    the exception handlers (RFC 6749 §5.2 shape).
    """
    require_method(scope, "POST")
    request: Request[Any, Any, Any] = Request(scope, receive)
    server = authorization_server(request.app.state)
    body = await server.create_token_response(
        await read_form(request),
        authorization=request.headers.get("authorization"),
        address=client_address(request),
    )
    await send_no_store(send, body)


ROUTES = [token]
