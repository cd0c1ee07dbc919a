"""POST /oauth/token (RFC 6749 §3.2): parse the form, hand it to the authorization server."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, post
from litestar.datastructures import State

from issuer.oauth.forms import Form, parse_form
from issuer.oauth.server import AuthorizationServer
from issuer.runtime import Runtime

__all__ = ["ROUTES", "authorization_server", "no_store", "read_form", "token"]

# RFC 6749 §5.1: responses with tokens MUST carry Cache-Control: no-store.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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
    return parse_form(await request.body(), request.headers.get("content-type"))


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def no_store(body: Any, status_code: int = 200) -> Response[Any]:
    return Response(body, status_code=status_code, headers=NO_STORE, media_type=MediaType.JSON)


@post("/oauth/token", status_code=200, summary="Token endpoint (RFC 6749 §3.2)")
async def token(request: Request[Any, Any, Any]) -> Response[Any]:
    server = authorization_server(request.app.state)
    body = await server.create_token_response(
        await read_form(request),
        authorization=request.headers.get("authorization"),
        address=client_address(request),
    )
    return no_store(body)


ROUTES = [token]
