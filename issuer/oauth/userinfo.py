"""The userinfo endpoint (OpenID Connect Core §5.3) for the issuer's user access tokens."""

from __future__ import annotations

from typing import Any

from issuer.errors import InvalidToken
from issuer.oauth.access import bearer_token, check_access_token
from issuer.oauth.server import AuthorizationServer

__all__ = ["userinfo"]


async def userinfo(server: AuthorizationServer, authorization: str | None) -> dict[str, Any]:
    """sub, email and roles of the token's user; no `openid` scope until ID tokens exist."""
    token = bearer_token(authorization)
    live = await check_access_token(
        token,
        ring=server.ring(),
        database=server.database,
        issuer=server.settings.url,
        now=server.clock(),
    )
    claims, user = live.claims, live.state.user
    # Only tokens from a login carry a family; a client-credentials token has no user.
    if claims.sid is None or claims.sub == claims.client_id:
        raise InvalidToken("the access token represents a client, not a user")
    if user is None or user.disabled:
        raise InvalidToken("the access token's user no longer exists or is disabled")
    return {
        "sub": user.id,
        "email": user.email,
        # Addresses are not verified by this issuer (yet); say so rather than leave it out.
        "email_verified": False,
        "roles": list(user.roles),
    }
