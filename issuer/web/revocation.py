"""POST /oauth/revoke (RFC 7009)."""

from __future__ import annotations

from issuer.oauth.revocation import revoke_token
from issuer.web.discovery import REVOCATION_PATH
from issuer.web.protocol import ProtocolRequest, protocol_endpoint

__all__ = ["ROUTES", "revoke"]


@protocol_endpoint(REVOCATION_PATH, "POST")
async def revoke(request: ProtocolRequest) -> None:
    """Token revocation (RFC 7009 §2.1): for the client the token was issued to."""
    form = await request.form()
    client = await request.server.authenticate_client(form, request.authorization)
    await revoke_token(request.server, client, form)
    # RFC 7009 §2.2: 200 whether or not the token was valid; the body is empty.


ROUTES = [revoke]
