"""The userinfo endpoint (OpenID Connect Core §5.3) for the issuer's user access tokens."""

from __future__ import annotations

from typing import Any

from issuer.errors import InvalidToken
from issuer.oauth.access import bearer_token, check_access_token
from issuer.oauth.server import AuthorizationServer

__all__ = ["userinfo"]


async def userinfo(server: AuthorizationServer, authorization: str | None) -> dict[str, Any]:
    """The token's user, per scope (OpenID Connect Core §5.3.2, §5.4): with `openid`, `sub`
    and the `email` scope's claims; a token without `openid` (the password grant) gets what
    it always got: sub, email and roles."""
    token = bearer_token(authorization)
    live = await check_access_token(
        token,
        ring=server.ring(),
        database=server.database,
        issuer=server.settings.url,
        now=server.clock(),
    )
    claims, user = live.claims, live.state.user
    # A client's own token has the client as its subject (no client id looks like a user's).
    if claims.sub == claims.client_id:
        raise InvalidToken("the access token represents a client, not a user")
    if user is None or user.disabled:
        raise InvalidToken("the access token's user no longer exists or is disabled")
    # Addresses are not verified by this issuer (yet); say so rather than leave it out.
    email = {"email": user.email, "email_verified": False}
    if "openid" not in claims.scope:
        return {"sub": user.id, **email, "roles": list(user.roles)}
    # §5.3.2: sub is always returned; §5.4: the email scope asks for email, email_verified.
    return {"sub": user.id, **(email if "email" in claims.scope else {})}
