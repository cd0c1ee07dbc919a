"""Who may use the admin API: a live issuer access token with role admin or scope issuer:admin.

The admin API is a resource of the issuer itself (RFC 9068): the token's audience must be
the issuer, and its `sub` is the actor every audit event names. Two ways in, each checked
against the database of now, not against what the token claims:

- scope `issuer:admin` only on a client's own token (client_credentials: no `sid`, `sub` ==
  `client_id`, no user behind it) whose client is enabled and still registered for it;
- role `admin` only on a user's token whose user is enabled and still has the role.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler

from issuer.accounts.users import ADMIN_ROLE
from issuer.errors import InsufficientScope
from issuer.oauth.access import LiveAccessToken, bearer_token, check_access_token
from issuer.oauth.grants.base import ADMIN_SCOPE
from issuer.web.deps import runtime_of

__all__ = [
    "ADMIN_ROLE",
    "ADMIN_SCOPE",
    "BEARER_SECURITY",
    "Actor",
    "provide_actor",
    "require_admin",
]

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
    if not (is_admin_client(live) or is_admin_user(live)):
        raise InsufficientScope(f"the admin API needs role {ADMIN_ROLE} or scope {ADMIN_SCOPE}")
    connection.state.admin_actor = live.claims.sub


def is_admin_client(live: LiveAccessToken) -> bool:
    """A client-credentials token with the admin scope, of a client still registered for it."""
    claims, client = live.claims, live.state.client
    return (
        claims.has_scopes(ADMIN_SCOPE)
        and claims.sid is None
        and claims.sub == claims.client_id
        and live.state.user is None
        and client is not None
        and not client.disabled
        and ADMIN_SCOPE in client.scopes
    )


def is_admin_user(live: LiveAccessToken) -> bool:
    """A user's token with the admin role, of a user who is enabled and still has it."""
    claims, user = live.claims, live.state.user
    return (
        claims.has_roles(ADMIN_ROLE)
        and claims.sub != claims.client_id
        and user is not None
        and not user.disabled
        and ADMIN_ROLE in user.roles
    )


def provide_actor(request: Request[Any, Any, Any]) -> str:
    """Who is acting, for the audit log: the admin token's `sub` (set by the guard)."""
    actor: str = request.state.admin_actor
    return actor
