"""Who may use the admin API: a live issuer access token with role admin or scope issuer:admin.

The admin API is a resource of the issuer itself (RFC 9068): the token's audience must be
the issuer, and its `sub` is the actor every audit event names.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler

from issuer.errors import InsufficientScope
from issuer.oauth.access import bearer_token, check_access_token
from issuer.web.deps import runtime_of

__all__ = [
    "ADMIN_ROLE",
    "ADMIN_SCOPE",
    "BEARER_SECURITY",
    "Actor",
    "provide_actor",
    "require_admin",
]

ADMIN_ROLE = "admin"
ADMIN_SCOPE = "issuer:admin"
BEARER_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]

Actor = NamedDependency[str]


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a live access token for this issuer with role admin or scope issuer:admin."""
    runtime = runtime_of(connection.scope)
    token = bearer_token(connection.headers.get("authorization"))
    live = await check_access_token(
        token,
        ring=runtime.keys.ring,
        database=runtime.database,
        issuer=runtime.settings.url,
        now=runtime.clock(),
        # The admin API is a resource of the issuer itself: a token for another service
        # must not open it.
        audiences=(runtime.settings.url,),
    )
    claims = live.claims
    if not (claims.has_roles(ADMIN_ROLE) or claims.has_scopes(ADMIN_SCOPE)):
        raise InsufficientScope(f"the admin API needs role {ADMIN_ROLE} or scope {ADMIN_SCOPE}")
    connection.state.admin_actor = claims.sub


def provide_actor(request: Request[Any, Any, Any]) -> str:
    """Who is acting, for the audit log: the admin token's `sub` (set by the guard)."""
    actor: str = request.state.admin_actor
    return actor
