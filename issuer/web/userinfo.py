"""GET|POST /userinfo: the user behind a Bearer access token (OpenID Connect Core §5.3)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, route

from issuer.oauth.userinfo import userinfo
from issuer.web.token import authorization_server, no_store

__all__ = ["ROUTES", "userinfo_endpoint"]


@route("/userinfo", http_method=["GET", "POST"], status_code=200, summary="UserInfo")
async def userinfo_endpoint(request: Request[Any, Any, Any]) -> Response[Any]:
    server = authorization_server(request.app.state)
    return no_store(await userinfo(server, request.headers.get("authorization")))


ROUTES = [userinfo_endpoint]
