"""RFC 6749 §6 refresh with rotation and reuse detection (RFC 9700 §4.14.2).

The refresh token is an opaque handle (`issuer.oauth.handles`): no signature to check, the
store knows it by its digest. Named steps, as oidc-provider's refresh_token action: read the
token → check a narrowed scope or audience (a read only when one is asked for) → rotate
(atomic consume + successor, for this client only; one statement on Postgres) → or, when
the consume fails, let the store settle why (`families.settle_failed_rotation`): a
grace-period replay gets the same successor back; reuse revokes the family in a transaction
committed before `invalid_grant` is raised (fosite).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from issuer.errors import InvalidGrant, InvalidScope, InvalidTarget
from issuer.metrics import REFRESH_REUSE, REVOCATIONS, TOKENS_ISSUED
from issuer.oauth import handles
from issuer.oauth.grants.base import (
    ADMIN_SCOPE,
    IDENTITY_SCOPES,
    Grant,
    TokenRequest,
    resolve_audience,
    scope_tokens,
)
from issuer.oauth.minting import token_response
from issuer.store import families
from issuer.store.families import Refusal, Rotated

__all__ = ["PresentedToken", "RefreshTokenGrant"]


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """The refresh token in the request, and the digest the store knows it by."""

    token: str
    digest: str


class RefreshTokenGrant(Grant):
    GRANT_TYPE = "refresh_token"

    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        presented = self.read_refresh_token(request)
        await self.check_narrowing(presented, request)
        self.server.minter.ensure_signer(request.client)
        token = self.server.minter.successor_of(presented.token)
        successor = await self.rotate(presented, handles.digest(token), request)
        if successor is None:
            successor = await self.explain_failed_consume(presented, request)
        return self.respond(successor, token, request)

    def read_refresh_token(self, request: TokenRequest) -> PresentedToken:
        """One of our opaque handles by its form; the database says whether it is good."""
        token = request.form.require("refresh_token")
        digest = handles.parse(token)
        if digest is None:
            raise InvalidGrant("the refresh token is invalid", debug="not a refresh token")
        return PresentedToken(token=token, digest=digest)

    async def check_narrowing(self, presented: PresentedToken, request: TokenRequest) -> None:
        """A request that names a scope or an audience is checked against the stored grant
        before anything changes: one read, and only then (the common case costs nothing)."""
        names = request.form.names()
        wants_scope = bool(scope_tokens(request.form.get("scope")))
        if not wants_scope and "audience" not in names and "resource" not in names:
            return
        granted = await families.granted(self.server.database, presented.digest)
        if granted is None:
            return  # unknown: the rotation refuses it, and says why
        # RFC 6749 §6: the authorization server MUST verify that the refresh token was issued
        # to the authenticated client.
        if granted.client_id != request.client.client_id:
            raise InvalidGrant("the refresh token was issued to another client")
        if wants_scope:
            self.access_scope(granted.scope, request)  # raises invalid_scope
        if "audience" in names or "resource" in names:
            if resolve_audience(request.form, request.client) != granted.audience:
                raise InvalidTarget("a refresh keeps the audience of the login")

    def access_scope(self, granted_scope: str, request: TokenRequest) -> str:
        """The access token's scope: the original grant's, or a narrower one."""
        granted = scope_tokens(granted_scope)
        # A user's token never carries the admin scope, even from a login made before that
        # rule (ADMIN_SCOPE in base.py): asking for it is refused below.
        allowed = (*request.client.scopes, *IDENTITY_SCOPES)
        current = [t for t in granted if t in allowed and t != ADMIN_SCOPE]
        wanted = scope_tokens(request.form.get("scope"))
        if not wanted:
            return " ".join(current)
        # RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
        refused = [token for token in wanted if token not in current]
        if refused:
            raise InvalidScope(f"scope not granted: {' '.join(refused)}")
        return " ".join(wanted)

    async def rotate(
        self, presented: PresentedToken, successor_digest: str, request: TokenRequest
    ) -> Rotated | None:
        """Consume the token and store its successor atomically (one round trip on Postgres)."""
        iat = int(request.now.timestamp())
        return await families.rotate(
            self.server.database,
            presented.digest,
            client_id=request.client.client_id,
            successor_jti=successor_digest,
            now=request.now,
            expires_at=datetime.fromtimestamp(
                iat + self.server.minter.refresh_ttl(request.client), UTC
            ),
        )

    async def explain_failed_consume(
        self, presented: PresentedToken, request: TokenRequest
    ) -> Rotated:
        """Why the consume failed. Reuse is revoked and committed *before* the error."""
        outcome = await families.settle_failed_rotation(
            self.server.database,
            presented.digest,
            client_id=request.client.client_id,
            now=request.now,
            grace=timedelta(seconds=self.server.settings.refresh_grace_seconds),
            actor=f"client:{request.client.client_id}",
        )
        if isinstance(outcome, Rotated):
            return outcome  # a grace-period replay: the same successor again
        # Committed: only now may the caller learn about it.
        match outcome.why:
            case Refusal.UNKNOWN:
                raise InvalidGrant("the refresh token is invalid", debug="unknown jti")
            case Refusal.OTHER_CLIENT:
                raise InvalidGrant("the refresh token was issued to another client")
            case Refusal.REVOKED:
                raise InvalidGrant("the refresh token was revoked", debug=outcome.detail)
            case Refusal.EXPIRED:
                raise InvalidGrant("the refresh token has expired")
            case Refusal.USER_DISABLED:
                raise InvalidGrant("the user is disabled")
            case Refusal.RETRY:  # pragma: no cover - it would have rotated
                raise InvalidGrant("the refresh token could not be used; try again")
            case Refusal.REUSED:
                # RFC 9700 §4.14.2: a used refresh token presented again means it was stolen
                # or replayed; its whole family is revoked.
                REFRESH_REUSE.inc()
                REVOCATIONS.labels(kind="family").inc()
                raise InvalidGrant(
                    "the refresh token was already used; the session is revoked",
                    debug=f"reuse in family {outcome.family_id}",
                )

    def respond(self, successor: Rotated, token: str, request: TokenRequest) -> dict[str, Any]:
        """The access token, and `token`: the successor, derived again on a grace replay."""
        scope = self.access_scope(successor.scope, request)
        access = self.server.minter.access_token(
            request.client,
            subject=successor.user_id,
            audience=successor.audience,
            scope=scope,
            now=int(request.now.timestamp()),
            roles=successor.roles,
            sid=successor.family_id,
        )
        TOKENS_ISSUED.labels(grant_type=self.GRANT_TYPE).inc()
        return token_response(access, token)
