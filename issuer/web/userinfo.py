"""GET|POST /userinfo: the user behind a Bearer access token (OpenID Connect Core §5.3)."""

from __future__ import annotations

from typing import Any

from litestar import Request, asgi
from litestar.types import Receive, Scope, Send

from issuer.oauth.userinfo import userinfo
from issuer.web.responses import require_method, send_no_store
from issuer.web.token import authorization_server

__all__ = ["ROUTES", "userinfo_endpoint"]


@asgi("/userinfo", copy_scope=False)
async def userinfo_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """UserInfo (OpenID Connect Core §5.3): a bare ASGI handler, as the token endpoint."""
    require_method(scope, "GET", "POST")
    request: Request[Any, Any, Any] = Request(scope, receive)
    server = authorization_server(request.app.state)
    await send_no_store(send, await userinfo(server, request.headers.get("authorization")))


ROUTES = [userinfo_endpoint]
