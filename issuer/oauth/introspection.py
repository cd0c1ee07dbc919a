"""RFC 7662 token introspection for authenticated confidential clients.

`{"active": false}` and nothing else for anything that is not a live token of ours: expired,
revoked (deny-list or family), forged, wrongly typed, signed by an unknown key, garbage,
and a token the caller has no business with (RFC 7662 §4): an access token is shown only to
a client it was issued to or meant for (its `client_id`, or an audience among the caller's),
or to a client registered with `introspect_any` (a gateway); a refresh token only to its own
client.
"""

from __future__ import annotations

from typing import Any

from issuer.errors import InvalidClient, InvalidToken
from issuer.jose.claims import AccessTokenClaims
from issuer.oauth.access import access_claims, require_live
from issuer.oauth.client_auth import ClientInfo
from issuer.oauth.forms import Form
from issuer.oauth.server import AuthorizationServer
from issuer.oauth.tokens import OwnToken, recognise
from issuer.store import families

__all__ = ["INACTIVE", "introspect", "may_introspect"]

INACTIVE: dict[str, Any] = {"active": False}
_CLAIMS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "sid")


def _answer(found: OwnToken, token_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {"active": True}
    body.update({name: found.claims[name] for name in _CLAIMS if name in found.claims})
    body["token_type"] = token_type
    body["token_use"] = found.kind
    if "roles" in found.claims:
        body["roles"] = found.claims["roles"]
    return body


def may_introspect(client: ClientInfo, claims: AccessTokenClaims) -> bool:
    """RFC 7662 §4: whether `client` may learn what this access token says."""
    return (
        client.introspect_any
        or claims.client_id == client.client_id
        or not set(claims.aud).isdisjoint(client.audiences)
    )


async def introspect(server: AuthorizationServer, client: ClientInfo, form: Form) -> dict[str, Any]:
    token = form.require("token")
    # RFC 7662 §2.1: the endpoint MUST require some form of authorization; a public client
    # proves nothing about itself.
    if client.public:
        raise InvalidClient("introspection needs a confidential client")
    ring, issuer, now = server.ring(), server.settings.url, server.clock()
    # RFC 7662 §2.1: the hint MAY be ignored; our two kinds differ in form.
    found = recognise(token, ring, issuer=issuer)
    if found is None:
        return INACTIVE
    if found.kind == "access_token":
        # `recognise` checked the signature and typ at+jwt: check the claims and the state.
        try:
            claims = access_claims(found.claims, issuer=issuer, now=now)
            if not may_introspect(client, claims):
                return INACTIVE
            await require_live(server.database, claims, now=now)
        except InvalidToken:
            return INACTIVE
        # RFC 7662 §2.2 token_type: the RFC 6749 §7.1 type of an access token.
        return _answer(found, "Bearer")
    # A refresh token is a secret of the client it was issued to: only it may ask.
    live = await families.live_refresh_token(
        server.database, found.digest, client_id=client.client_id, now=now
    )
    if live is None:
        return INACTIVE
    return {
        "active": True,
        "scope": live.scope,
        "client_id": client.client_id,
        "sub": live.user_id,
        "iss": issuer,
        "exp": int(live.expires_at.timestamp()),
        "iat": int(live.issued_at.timestamp()),
        "sid": live.family_id,
        # RFC 7662 §2.2 token_type: no RFC 6749 §7.1 type names a refresh token; this one.
        "token_type": "refresh_token",
        "token_use": "refresh_token",
    }
