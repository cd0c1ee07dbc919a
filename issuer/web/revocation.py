"""POST /oauth/revoke (RFC 7009)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from issuer.oauth.revocation import revoke_token
from issuer.web.responses import NO_STORE
from issuer.web.token import authorization_server, read_form

__all__ = ["ROUTES", "revoke"]


@post("/oauth/revoke", status_code=200, summary="Token revocation (RFC 7009)")
async def revoke(request: Request[Any, Any, Any]) -> Response[bytes]:
    server = authorization_server(request.app.state)
    form = await read_form(request)
    client = await server.authenticate_client(form, request.headers.get("authorization"))
    await revoke_token(server, client, form)
    # RFC 7009 §2.2: 200 whether or not the token was valid; the body is empty.
    return Response(b"", status_code=200, headers=NO_STORE)


ROUTES = [revoke]
