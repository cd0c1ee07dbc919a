"""POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from issuer.oauth.introspection import introspect
from issuer.web.token import authorization_server, no_store, read_form

__all__ = ["ROUTES", "introspection"]


@post("/oauth/introspect", status_code=200, summary="Token introspection (RFC 7662)")
async def introspection(request: Request[Any, Any, Any]) -> Response[Any]:
    server = authorization_server(request.app.state)
    form = await read_form(request)
    client = await server.authenticate_client(form, request.headers.get("authorization"))
    return no_store(await introspect(server, client, form))


ROUTES = [introspection]
