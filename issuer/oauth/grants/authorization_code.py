"""RFC 6749 §4.1.3 authorization code exchange with PKCE (RFC 7636 §4.5-4.6), the login of
the code flow (`issuer.oauth.authorization` issued the code).

Named steps: read the request (the code's digest, redirect_uri, the verifier's S256
transform, the audience it names, and what this use would issue) → exchange the code: one
compare-and-set that checks everything the code is bound to, records the family and
access-token jti this use issues and starts the refresh family (one statement on Postgres)
→ sign the access token and the ID token. Only when the exchange matches nothing is the
code read, to answer why (`diagnose`), with the checks in their order: unknown, another
client's, used, expired, redirect_uri, PKCE, resource, user disabled, session ended. A
second use of a code revokes what the first issued — its family and, through the
deny-list, its access token — in a transaction committed before `invalid_grant` is raised
(RFC 6749 §4.1.2, fosite).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.errors import InvalidGrant, InvalidRequest, InvalidTarget, OAuthError
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
from issuer.store.authorization_codes import Exchange, Login, StoredCode

__all__ = ["AuthorizationCodeGrant"]


@dataclass(frozen=True, slots=True)
class Presented:
    """What the token request alone determines, before the database is asked anything.
    `challenge` is None for a malformed verifier, `target` for no audience named;
    `fallback` is the client's default audience (None: it has none)."""

    digest: str
    redirect_uri: str
    verifier: str
    challenge: str | None
    target: str | None
    fallback: str | None
    audience_error: OAuthError | None

    @property
    def checked_by_the_exchange(self) -> bool:
        """Whether the exchange statement can check everything: else `diagnose` first."""
        return (
            self.challenge is not None
            and self.audience_error is None
            and (self.target is not None or self.fallback is not None)
        )


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
        presented = self.read(request)
        minter = self.server.minter
        minter.ensure_signer(request.client)
        if not presented.checked_by_the_exchange or not self.can_sign_id_tokens(request):
            # Read the code first: an error must come before any state changes.
            exchange = await self.diagnose(presented, request)
            wants_id_token = "openid" in scope_tokens(exchange.code.scope)
            minter.ensure_signer(request.client, id_token=wants_id_token)
        issued = await self.exchange(presented, request)
        if issued is None:
            await self.diagnose(presented, request)
            raise InvalidGrant(
                "the authorization code is invalid",
                debug="the exchange matched nothing, the code reads as valid",
            )
        return self.respond(issued, request, id_token="openid" in scope_tokens(issued.code.scope))

    def read(self, request: TokenRequest) -> Presented:
        """The request's parameters; a malformed verifier or audience is kept, not raised,
        so that `diagnose` answers in the order of its checks."""
        form, client = request.form, request.client
        digest = authorization_codes.code_digest(form.require("code"))
        redirect_uri = form.require("redirect_uri")
        verifier = form.require("code_verifier")
        challenge = pkce.challenge_of(verifier) if pkce.is_verifier(verifier) else None
        names = form.names()
        target, error = None, None
        if "audience" in names or "resource" in names:
            try:
                target = resolve_audience(form, client)
            except OAuthError as exc:
                error = exc
        fallback = client.audiences[0] if client.audiences else None
        return Presented(digest, redirect_uri, verifier, challenge, target, fallback, error)

    def can_sign_id_tokens(self, request: TokenRequest) -> bool:
        """Whether the client's ID-token alg has an active key (no need to know the scope)."""
        try:
            self.server.minter.ensure_signer(request.client, id_token=True)
        except OAuthError:
            return False
        return True

    async def exchange(self, presented: Presented, request: TokenRequest) -> Issued | None:
        """Consume the code, recording what this use issues, and start its refresh family
        when the client may refresh: one statement on Postgres. None if it matched nothing."""
        client, now = request.client, request.now
        minter, settings = self.server.minter, self.server.settings
        assert presented.challenge is not None  # checked_by_the_exchange, or diagnosed
        jti = new_jti()
        access_expires = now + timedelta(seconds=minter.access_ttl(client))
        refresh = login = None
        if "refresh_token" in client.grant_types:
            refresh = minter.new_refresh_token()
            family_expires = now + timedelta(seconds=settings.family_lifetime)
            login = Login(
                family_id=str(uuid.uuid4()),
                family_expires_at=family_expires,
                jti=handles.digest(refresh),
                expires_at=min(now + timedelta(seconds=minter.refresh_ttl(client)), family_expires),
            )
        exchanged = await authorization_codes.exchange(
            self.server.database,
            presented.digest,
            client_id=client.client_id,
            redirect_uri=presented.redirect_uri,
            code_challenge=presented.challenge,
            target=presented.target,
            fallback_audience=presented.fallback or "",
            now=now,
            access_token_jti=jti,
            access_token_expires_at=access_expires,
            login=login,
        )
        if exchanged is None:
            return None
        code = exchanged.code
        audience = presented.target or code.resource or presented.fallback or ""
        return Issued(code, audience, jti, refresh, exchanged.email, exchanged.roles)

    async def diagnose(self, presented: Presented, request: TokenRequest) -> Exchange:
        """Read the code and raise what is wrong with it, in the order of the checks; the
        code as read if nothing is (then the exchange can try it)."""
        exchange = await authorization_codes.for_exchange(self.server.database, presented.digest)
        if exchange is None:
            raise InvalidGrant("the authorization code is invalid", debug="unknown code")
        code = exchange.code
        # RFC 6749 §4.1.3: ensure the code was issued to the authenticated client.
        if code.client_id != request.client.client_id:
            raise InvalidGrant("the authorization code was issued to another client")
        if code.used_at is not None:
            await self.revoke_first_use(presented.digest, request)
        if code.expires_at <= request.now:
            raise InvalidGrant("the authorization code has expired")
        # RFC 6749 §4.1.3: redirect_uri MUST be identical to the authorization request's.
        if presented.redirect_uri != code.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the authorization request")
        if presented.challenge is None:
            raise InvalidRequest("code_verifier must be 43 to 128 unreserved characters")
        # RFC 7636 §4.6: compare the verifier's transform with the stored challenge.
        if not pkce.verifies(presented.verifier, code.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge")
        self.check_audience(presented, code)
        if exchange.user_disabled:
            raise InvalidGrant("the user is disabled", debug=f"user {code.user_id}")
        # The code is bound to its browser session: logged out since, it gets nothing.
        if exchange.session_ended:
            raise InvalidGrant("the login session has ended")
        return exchange

    def check_audience(self, presented: Presented, code: StoredCode) -> None:
        """The access token's audience: the authorization request's resource, or the one
        the token request names (RFC 8707 §2.2: within what was authorized), or the
        client's default."""
        if presented.audience_error is not None:
            raise presented.audience_error
        if presented.target is None:
            if code.resource is None and presented.fallback is None:
                raise InvalidTarget("the client has no audience")
            return
        if code.resource is not None and presented.target != code.resource:
            raise InvalidTarget("the resource differs from the authorization request's")

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
