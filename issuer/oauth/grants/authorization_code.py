"""RFC 6749 §4.1.3 authorization code exchange with PKCE (RFC 7636 §4.5-4.6), the login of
the code flow (`issuer.oauth.authorization` issued the code).

Named steps: read the request → find the code and check what it is bound to (client, a
second use, expiry, redirect_uri, PKCE) → consume it (one compare-and-set that records the
family and access-token jti this use issues) and start the refresh family, in one
transaction → sign the access token and the ID token. A second use of a code revokes what
the first issued — its family and, through the deny-list, its access token — in a
transaction committed before `invalid_grant` is raised (RFC 6749 §4.1.2, fosite).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.errors import InvalidGrant, InvalidRequest, InvalidTarget
from issuer.metrics import REVOCATIONS, TOKENS_ISSUED
from issuer.oauth import handles, pkce
from issuer.oauth.grants.base import Grant, TokenRequest, resolve_audience, scope_tokens
from issuer.oauth.minting import new_jti, token_response
from issuer.store import (
    audit,
    authorization_codes,
    denylist,
    families,
)
from issuer.store.authorization_codes import Exchange, StoredCode
from issuer.store.database import Database

__all__ = ["AuthorizationCodeGrant"]


@dataclass(frozen=True, slots=True)
class Issued:
    """What a code's first use stored, and what its response needs."""

    code: StoredCode
    audience: str
    jti: str
    refresh_token: str | None
    email: str
    roles: tuple[str, ...]


class AuthorizationCodeGrant(Grant):
    GRANT_TYPE = "authorization_code"

    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        form = request.form
        digest = authorization_codes.code_digest(form.require("code"))
        redirect_uri = form.require("redirect_uri")
        verifier = form.require("code_verifier")
        exchange = await self.find_code(digest, request)
        code = exchange.code
        self.check_binding(code, redirect_uri, verifier, request)
        audience = self.audience(code, request)
        wants_id_token = "openid" in scope_tokens(code.scope)
        self.server.minter.ensure_signer(request.client, id_token=wants_id_token)
        issued = await self.consume(exchange, audience, request)
        return self.respond(issued, request, id_token=wants_id_token)

    async def find_code(self, digest: str, request: TokenRequest) -> Exchange:
        """The code, with its user and session (one read)."""
        exchange = await authorization_codes.for_exchange(self.server.database, digest)
        if exchange is None:
            raise InvalidGrant("the authorization code is invalid", debug="unknown code")
        code = exchange.code
        # RFC 6749 §4.1.3: ensure the code was issued to the authenticated client.
        if code.client_id != request.client.client_id:
            raise InvalidGrant("the authorization code was issued to another client")
        if code.used_at is not None:
            await self.revoke_first_use(digest, request)
        return exchange

    def check_binding(
        self, code: StoredCode, redirect_uri: str, verifier: str, request: TokenRequest
    ) -> None:
        if code.expires_at <= request.now:
            raise InvalidGrant("the authorization code has expired")
        # RFC 6749 §4.1.3: redirect_uri MUST be identical to the authorization request's.
        if redirect_uri != code.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the authorization request")
        if not pkce.is_verifier(verifier):
            raise InvalidRequest("code_verifier must be 43 to 128 unreserved characters")
        # RFC 7636 §4.6: compare the verifier's transform with the stored challenge.
        if not pkce.verifies(verifier, code.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge")

    def audience(self, code: StoredCode, request: TokenRequest) -> str:
        """The access token's audience: the authorization request's resource, or the one
        the token request names (RFC 8707 §2.2: within what was authorized), or the
        client's default."""
        names = request.form.names()
        if "audience" not in names and "resource" not in names:
            return code.resource or resolve_audience(request.form, request.client)
        target = resolve_audience(request.form, request.client)
        if code.resource is not None and target != code.resource:
            raise InvalidTarget("the resource differs from the authorization request's")
        return target

    async def consume(self, exchange: Exchange, audience: str, request: TokenRequest) -> Issued:
        """Consume the code (one statement) and start its refresh family in the same
        transaction when the client may refresh; a consume lost to a concurrent use is a
        second use."""
        client, now = request.client, request.now
        minter, settings = self.server.minter, self.server.settings
        jti = new_jti()
        access_expires = now + timedelta(seconds=minter.access_ttl(client))
        refresh = minter.new_refresh_token() if "refresh_token" in client.grant_types else None
        family_id = None if refresh is None else str(uuid.uuid4())
        database, code = self.server.database, exchange.code
        if exchange.user_disabled:
            raise InvalidGrant("the user is disabled", debug=f"user {code.user_id}")
        # The code is bound to its browser session: logged out since, it gets nothing.
        if exchange.session_ended:
            raise InvalidGrant("the login session has ended")

        async def consume_in(target: Database | AsyncSession) -> bool:
            return await authorization_codes.consume(
                target,
                code.digest,
                client_id=client.client_id,
                now=now,
                family_id=family_id,
                access_token_jti=jti,
                access_token_expires_at=access_expires,
            )

        if refresh is None or family_id is None:  # nothing else to store: one statement
            consumed = await consume_in(database)
        else:
            async with database.session() as session:
                consumed = await consume_in(session)
                if consumed:
                    family_expires = now + timedelta(seconds=settings.family_lifetime)
                    await families.add_login(
                        session,
                        family_id=family_id,
                        user_id=code.user_id,
                        client_id=client.client_id,
                        scope=code.scope,
                        audience=audience,
                        now=now,
                        family_expires_at=family_expires,
                        jti=handles.digest(refresh),
                        expires_at=min(
                            now + timedelta(seconds=minter.refresh_ttl(client)), family_expires
                        ),
                        session_id=code.session_id,
                    )
        email, roles = exchange.email, exchange.roles
        if not consumed:
            await self.revoke_first_use(code.digest, request)
        stored = replace(
            code,
            used_at=now,
            family_id=family_id,
            access_token_jti=jti,
            access_token_expires_at=access_expires,
        )
        return Issued(stored, audience, jti, refresh, email, roles)

    async def revoke_first_use(self, digest: str, request: TokenRequest) -> None:
        """RFC 6749 §4.1.2: a code used more than once MUST be refused, and the tokens its
        first use issued SHOULD be revoked: its family, and its access token on the
        deny-list. Committed, and only then is `invalid_grant` raised."""
        now, actor = request.now, f"client:{request.client.client_id}"
        # Read after the first use committed (a lost consume waited for it), so its family
        # and jti are there.
        code = await authorization_codes.find(self.server.database, digest)
        async with self.server.database.session() as session:
            first = code is not None and await _revoke(session, code, now=now, actor=actor)
        if first and code is not None:
            REVOCATIONS.labels(kind="access_token").inc()
            if code.family_id is not None:
                REVOCATIONS.labels(kind="family").inc()
        raise InvalidGrant(
            "the authorization code was already used; the tokens it issued are revoked",
            debug=f"code reuse, family {code.family_id if code else None}",
        )

    def respond(self, issued: Issued, request: TokenRequest, *, id_token: bool) -> dict[str, Any]:
        code, minter, iat = issued.code, self.server.minter, int(request.now.timestamp())
        access = minter.access_token(
            request.client,
            subject=code.user_id,
            audience=issued.audience,
            scope=code.scope,
            now=iat,
            roles=issued.roles,
            sid=code.family_id,
            jti=issued.jti,
        )
        body = token_response(access, issued.refresh_token)
        if id_token:
            with_email = "email" in scope_tokens(code.scope)
            body["id_token"] = minter.id_token(
                request.client,
                subject=code.user_id,
                now=iat,
                auth_time=int(code.auth_time.timestamp()),
                nonce=code.nonce,
                access_token=access.token,
                sid=code.session_id,
                email=issued.email if with_email else None,
                # Addresses are not verified by this issuer (yet); say so.
                email_verified=False,
            )
        TOKENS_ISSUED.labels(grant_type=self.GRANT_TYPE).inc()
        return body


async def _revoke(session: AsyncSession, code: StoredCode, *, now: datetime, actor: str) -> bool:
    """Revoke what a used code issued and audit it; True the first time (its family was
    live, or it had none and its access token is denied now)."""
    if code.used_at is None:  # pragma: no cover - only a used code comes back here
        return False
    first = code.family_id is None or await families.revoke(
        session, code.family_id, reason="code_reuse", now=now
    )
    if code.access_token_jti is not None and code.access_token_expires_at is not None:
        await denylist.add(
            session, code.access_token_jti, until=code.access_token_expires_at, now=now
        )
    audit.record(
        session,
        now=now,
        actor=actor,
        action="code.reuse",
        subject=code.family_id or "",
        detail={"client_id": code.client_id, "user_id": code.user_id},
    )
    return first
