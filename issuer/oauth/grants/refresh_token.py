"""RFC 6749 §6 refresh with rotation and reuse detection (RFC 9700 §4.14.2).

Named steps, as oidc-provider's refresh_token action: verify the token → check the client →
check the scope → rotate (atomic consume + successor; one statement on Postgres) → or, when
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
from issuer.oauth.access import TYP_REFRESH
from issuer.oauth.client_auth import ClientInfo
from issuer.oauth.grants.base import (
    ADMIN_SCOPE,
    Grant,
    TokenRequest,
    resolve_audience,
    scope_tokens,
)
from issuer.oauth.minting import new_jti, token_response
from issuer.store import families
from issuer.store.families import Refusal, Rotated
from issuer.verify._errors import VerificationError

__all__ = ["PresentedToken", "RefreshTokenGrant"]


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """The verified claims of the refresh token in the request."""

    jti: str
    family_id: str
    client_id: str
    scope: str


class RefreshTokenGrant(Grant):
    GRANT_TYPE = "refresh_token"

    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        presented = self.verify_refresh_token(request)
        self.check_client(presented, request.client)
        access_scope = self.check_scope(presented, request)
        await self.check_audience(presented, request)
        self.server.minter.ensure_signer(request.client)
        successor = await self.rotate(presented, request)
        if successor is None:
            successor = await self.explain_failed_consume(presented, request)
        return self.respond(successor, access_scope, request)

    def verify_refresh_token(self, request: TokenRequest) -> PresentedToken:
        """Our signature, typ rt+jwt, iss, aud = the issuer, exp; anything else is unknown."""
        token = request.form.require("refresh_token")
        issuer = self.server.settings.url
        try:
            payload = self.server.ring().verify(token, typ=TYP_REFRESH)
        except VerificationError as exc:
            raise InvalidGrant("the refresh token is invalid", debug=exc.reason.value) from None
        exp = payload.get("exp")
        fields = [payload.get(name) for name in ("jti", "sid", "client_id", "scope")]
        if (
            payload.get("iss") != issuer
            or payload.get("aud") != issuer
            or not all(isinstance(value, str) for value in fields)
            or isinstance(exp, bool)
            or not isinstance(exp, int)
        ):
            raise InvalidGrant("the refresh token is invalid", debug="claims")
        if request.now.timestamp() >= exp:
            raise InvalidGrant("the refresh token has expired")
        jti, sid, client_id, scope = (str(value) for value in fields)
        return PresentedToken(jti=jti, family_id=sid, client_id=client_id, scope=scope)

    def check_client(self, presented: PresentedToken, client: ClientInfo) -> None:
        # RFC 6749 §6: the authorization server MUST verify that the refresh token was issued
        # to the authenticated client.
        if presented.client_id != client.client_id:
            raise InvalidGrant("the refresh token was issued to another client")

    def check_scope(self, presented: PresentedToken, request: TokenRequest) -> str:
        """The access token's scope: the original grant's, or a narrower one."""
        granted = scope_tokens(presented.scope)
        # A user's token never carries the admin scope, even from a login made before that
        # rule (ADMIN_SCOPE in base.py): asking for it is refused below.
        current = [t for t in granted if t in request.client.scopes and t != ADMIN_SCOPE]
        wanted = scope_tokens(request.form.get("scope"))
        if not wanted:
            return " ".join(current)
        # RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
        refused = [token for token in wanted if token not in current]
        if refused:
            raise InvalidScope(f"scope not granted: {' '.join(refused)}")
        return " ".join(wanted)

    async def check_audience(self, presented: PresentedToken, request: TokenRequest) -> None:
        """A refresh keeps the login's audience; naming another is invalid_target (RFC 8707)."""
        names = request.form.names()
        if "audience" not in names and "resource" not in names:
            return  # the common case costs no round trip
        target = resolve_audience(request.form, request.client)
        async with self.server.database.session() as session:
            family = await families.family(session, presented.family_id)
        if family is not None and target != family.audience:
            raise InvalidTarget("a refresh keeps the audience of the login")

    async def rotate(self, presented: PresentedToken, request: TokenRequest) -> Rotated | None:
        """Consume the token and store its successor atomically (one round trip on Postgres)."""
        iat = int(request.now.timestamp())
        return await families.rotate(
            self.server.database,
            presented.jti,
            client_id=request.client.client_id,
            successor_jti=new_jti(),
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
            presented.jti,
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

    def respond(self, successor: Rotated, scope: str, request: TokenRequest) -> dict[str, Any]:
        minter, client = self.server.minter, request.client
        access = minter.access_token(
            client,
            subject=successor.user_id,
            audience=successor.audience,
            scope=scope,
            now=int(request.now.timestamp()),
            roles=successor.roles,
            sid=successor.family_id,
        )
        # Derived from stored values only, so a grace-period replay re-signs the same token.
        refresh = minter.refresh_token(
            client,
            subject=successor.user_id,
            family_id=successor.family_id,
            jti=successor.jti,
            scope=successor.scope,
            iat=int(successor.issued_at.timestamp()),
            exp=int(successor.expires_at.timestamp()),
        )
        TOKENS_ISSUED.labels(grant_type=self.GRANT_TYPE).inc()
        return token_response(access, refresh)
