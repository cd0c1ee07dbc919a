"""RFC 6749 §4.3 resource owner password credentials: a login that starts a refresh family.

RFC 9700 §2.4 says this grant must not be used; it is here only for first-party
confidential clients that opted in (Keycloak's "direct access grants").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from issuer.accounts.passwords import hash_password, verify_password
from issuer.errors import InvalidGrant, InvalidRequest, SlowDown, UnauthorizedClient
from issuer.metrics import TOKENS_ISSUED
from issuer.oauth import handles
from issuer.oauth.grants.base import Grant, TokenRequest, resolve_audience, resolve_scope
from issuer.oauth.login_audit import login_failed
from issuer.oauth.minting import token_response
from issuer.store import families, users

__all__ = ["PasswordGrant"]

MAX_PASSWORD_CHARS = 1024


class PasswordGrant(Grant):
    GRANT_TYPE = "password"

    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        client, form = request.client, request.form
        # RFC 9700 §2.4: kept only for first-party *confidential* clients.
        if client.public:
            raise UnauthorizedClient("a public client cannot use the password grant")
        email = form.require("username").strip().lower()
        password = form.require("password")
        if len(password) > MAX_PASSWORD_CHARS:
            raise InvalidRequest("the password is too long")
        scope = resolve_scope(form.get("scope"), client.scopes)
        audience = resolve_audience(form, client)
        self.server.minter.ensure_signer(client)
        user = await self.authenticate_user(email, password, request)

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

    async def authenticate_user(
        self, email: str, password: str, request: TokenRequest
    ) -> users.LoginUser:
        """The user if the password matches; throttled per account and per address."""
        throttle = self.server.throttle
        failed = partial(
            login_failed,
            self.server.database,
            username=email,
            client_id=request.client.client_id,
            address=request.address,
            now=request.now,
        )
        # Reserve the attempt before the password is checked: concurrent guesses must not
        # all pass a check that only the failures recorded after them could fail.
        reservation = await throttle.reserve(email, request.address, now=request.now)
        if reservation.retry_after is not None:
            await failed(reason="throttled", user_id=None)
            raise SlowDown(
                "too many failed logins; try again later", retry_after=reservation.retry_after
            )
        try:
            user = await users.login_user(self.server.database, email)
            # An unknown e-mail still pays for one Argon2 verification (against a dummy hash).
            check = await verify_password(user.password_hash if user else None, password)
        except Exception:
            await throttle.failed(reservation)  # no verdict, but no attempt taken back either
            raise
        if user is None or not check.ok:
            await throttle.failed(reservation)
            # One label for both: a metric must not tell which accounts exist.
            await failed(reason="invalid_credentials", user_id=user.id if user else None)
            raise InvalidGrant("invalid username or password")
        await throttle.succeeded(reservation)
        if user.disabled:
            await failed(reason="disabled", user_id=user.id)
            # The same answer as a wrong password: it must not confirm the password was right.
            raise InvalidGrant("invalid username or password", debug="the user is disabled")
        if check.needs_rehash:
            new_hash = await hash_password(password)
            async with self.server.database.session() as session:
                await users.set_hash(session, user.id, new_hash)
        return user
