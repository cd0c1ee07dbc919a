"""GET|POST /userinfo: the user behind a Bearer access token (OpenID Connect Core §5.3)."""

from __future__ import annotations

from typing import Any

from issuer.oauth.userinfo import userinfo
from issuer.web.discovery import USERINFO_PATH
from issuer.web.protocol import ProtocolRequest, protocol_endpoint

__all__ = ["ROUTES", "userinfo_endpoint"]


@protocol_endpoint(USERINFO_PATH, "GET", "POST")
async def userinfo_endpoint(request: ProtocolRequest) -> dict[str, Any]:
    """UserInfo (OpenID Connect Core §5.3: the endpoint MUST support GET and POST)."""
    return await userinfo(request.server, request.authorization)


ROUTES = [userinfo_endpoint]
