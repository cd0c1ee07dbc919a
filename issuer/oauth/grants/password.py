"""RFC 6749 §4.3 resource owner password credentials: a login that starts a refresh family.

RFC 9700 §2.4 says this grant must not be used; it is here only for first-party
confidential clients that opted in (Keycloak's "direct access grants").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from issuer.errors import UnauthorizedClient
from issuer.metrics import TOKENS_ISSUED
from issuer.oauth import handles
from issuer.oauth.grants.base import Grant, TokenRequest, resolve_audience, resolve_scope
from issuer.oauth.login import authenticate_user
from issuer.oauth.minting import token_response
from issuer.store import families

__all__ = ["PasswordGrant"]


class PasswordGrant(Grant):
    GRANT_TYPE = "password"

    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        client, form = request.client, request.form
        # RFC 9700 §2.4: kept only for first-party *confidential* clients.
        if client.public:
            raise UnauthorizedClient("a public client cannot use the password grant")
        email = form.require("username")
        password = form.require("password")
        scope = resolve_scope(form.get("scope"), client.scopes)
        audience = resolve_audience(form, client)
        self.server.minter.ensure_signer(client)
        user = await authenticate_user(
            self.server,
            email,
            password,
            client_id=client.client_id,
            address=request.address,
            now=request.now,
        )

        now = request.now
        family_id, refresh = str(uuid.uuid4()), self.server.minter.new_refresh_token()
        iat = int(now.timestamp())
        family_expires = iat + self.server.settings.family_lifetime
        refresh_exp = min(iat + self.server.minter.refresh_ttl(client), family_expires)
        await families.start_login(
            self.server.database,
            family_id=family_id,
            user_id=user.id,
            client_id=client.client_id,
            scope=scope,
            audience=audience,
            now=now,
            family_expires_at=now + timedelta(seconds=self.server.settings.family_lifetime),
            jti=handles.digest(refresh),
            expires_at=datetime.fromtimestamp(refresh_exp, UTC),
        )
        minter = self.server.minter
        access = minter.access_token(
            client,
            subject=user.id,
            audience=audience,
            scope=scope,
            now=iat,
            roles=user.roles,
            sid=family_id,
        )
        TOKENS_ISSUED.labels(grant_type=self.GRANT_TYPE).inc()
        return token_response(access, refresh)
