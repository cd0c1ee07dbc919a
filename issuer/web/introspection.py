"""POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

from typing import Any

from issuer.oauth.introspection import introspect
from issuer.web.discovery import INTROSPECTION_PATH
from issuer.web.protocol import ProtocolRequest, protocol_endpoint

__all__ = ["ROUTES", "introspection"]


@protocol_endpoint(INTROSPECTION_PATH, "POST")
async def introspection(request: ProtocolRequest) -> dict[str, Any]:
    """Token introspection (RFC 7662 §2): for an authenticated client only."""
    form = await request.form()
    client = await request.server.authenticate_client(form, request.authorization)
    return await introspect(request.server, client, form)


ROUTES = [introspection]
