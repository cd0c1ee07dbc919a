"""RFC 7009 token revocation: a refresh token ends its family; an access token is denied.

RFC 7009 §2.2: the server responds 200 also for invalid tokens — the client cannot act on
the difference, and an attacker learns nothing. Only the caller's own tokens are revoked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from issuer.errors import UnsupportedTokenType
from issuer.metrics import REVOCATIONS
from issuer.oauth.client_auth import ClientInfo
from issuer.oauth.forms import Form
from issuer.oauth.server import AuthorizationServer
from issuer.oauth.tokens import recognise
from issuer.store import audit, denylist, families

__all__ = ["SUPPORTED_HINTS", "revoke_token"]

SUPPORTED_HINTS = ("access_token", "refresh_token")


async def revoke_token(server: AuthorizationServer, client: ClientInfo, form: Form) -> None:
    """Revoke the token if it is ours and the caller's; committed before returning."""
    token = form.require("token")
    hint = form.get("token_type_hint")
    # RFC 7009 §2.2.1: unsupported_token_type for a type the server cannot revoke.
    if hint is not None and hint not in SUPPORTED_HINTS:
        raise UnsupportedTokenType(f"token_type_hint {hint[:32]!r} is not supported")
    now = server.clock()
    found = recognise(token, server.ring(), issuer=server.settings.url)
    if found is None:
        return
    if found.kind == "refresh_token":
        # An expired refresh token still ends its family: logging out with a stale token works.
        async with server.database.session() as session:
            row = await families.find_token(session, found.digest)
            # RFC 7009 §2.1: the server first validates that the token was issued to this
            # client.
            if row is None or row[1].client_id != client.client_id:
                return
            family_id = row[1].id
            if await families.revoke(session, family_id, reason="revoked", now=now):
                audit.record(
                    session,
                    now=now,
                    actor=f"client:{client.client_id}",
                    action="family.revoke",
                    subject=family_id,
                    detail={"reason": "revoked", "jti": found.digest},
                )
        REVOCATIONS.labels(kind="refresh_token").inc()
        return
    # RFC 7009 §2.1: the server first validates that the token was issued to this client.
    jti = found.str_claim("jti")
    if found.str_claim("client_id") != client.client_id:
        return
    exp = found.int_claim("exp")
    if jti is None or exp is None or exp <= now.timestamp():
        return  # an expired access token is already refused everywhere
    async with server.database.session() as session:
        await denylist.add(session, jti, until=datetime.fromtimestamp(exp, UTC), now=now)
    REVOCATIONS.labels(kind="access_token").inc()
