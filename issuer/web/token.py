"""POST /oauth/token (RFC 6749 §3.2): parse the form, hand it to the authorization server."""

from __future__ import annotations

from typing import Any

from issuer.web.discovery import TOKEN_PATH
from issuer.web.protocol import ProtocolRequest, protocol_endpoint

__all__ = ["ROUTES", "token"]


@protocol_endpoint(TOKEN_PATH, "POST")
async def token(request: ProtocolRequest) -> dict[str, Any]:
    """Token endpoint (RFC 6749 §3.2): the server picks the grant; it never branches here."""
    return await request.server.create_token_response(
        await request.form(), authorization=request.authorization, address=request.address
    )


ROUTES = [token]
