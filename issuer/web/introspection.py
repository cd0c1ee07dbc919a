"""POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

from typing import Any

from litestar import Request, asgi
from litestar.types import Receive, Scope, Send

from issuer.oauth.introspection import introspect
from issuer.web.responses import require_method, send_no_store
from issuer.web.token import authorization_server, read_form

__all__ = ["ROUTES", "introspection"]


@asgi("/oauth/introspect", copy_scope=False)
async def introspection(scope: Scope, receive: Receive, send: Send) -> None:
    """Token introspection (RFC 7662): a bare ASGI handler, as the token endpoint."""
    require_method(scope, "POST")
    request: Request[Any, Any, Any] = Request(scope, receive)
    server = authorization_server(request.app.state)
    form = await read_form(request)
    client = await server.authenticate_client(form, request.headers.get("authorization"))
    await send_no_store(send, await introspect(server, client, form))


ROUTES = [introspection]
