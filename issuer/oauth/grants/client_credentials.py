"""RFC 6749 §4.4: a client gets an access token for itself; no refresh token."""

from __future__ import annotations

from typing import Any

from issuer.errors import UnauthorizedClient
from issuer.metrics import TOKENS_ISSUED
from issuer.oauth.grants.base import Grant, TokenRequest, resolve_audience, resolve_scope
from issuer.oauth.minting import token_response

__all__ = ["ClientCredentialsGrant"]


class ClientCredentialsGrant(Grant):
    GRANT_TYPE = "client_credentials"

    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        client = request.client
        # RFC 6749 §4.4: the client credentials grant type MUST only be used by confidential
        # clients.
        if client.public:
            raise UnauthorizedClient("a public client cannot use client_credentials")
        scope = resolve_scope(request.form.get("scope"), client.scopes, for_client=True)
        audience = resolve_audience(request.form, client)
        access = self.server.minter.access_token(
            client,
            subject=client.client_id,
            audience=audience,
            scope=scope,
            now=int(request.now.timestamp()),
        )
        TOKENS_ISSUED.labels(grant_type=self.GRANT_TYPE).inc()
        # RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
        return token_response(access)
