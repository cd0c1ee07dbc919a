"""The admin API under /admin: keys, users, clients and the audit log.

Protected by the issuer's own access tokens (RFC 9068): the audience must be the issuer
itself, and the token must carry role `admin` or scope `issuer:admin`. Every change writes
an audit event, in the same transaction, with the token's `sub` as the actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter

from issuer.accounts.clients import create_client
from issuer.accounts.users import AccountError, create_user, normalise_email
from issuer.errors import InsufficientScope, InvalidRequest, NotFound
from issuer.keyring import rotation
from issuer.metrics import REVOCATIONS
from issuer.oauth.access import bearer_token, check_access_token
from issuer.oauth.grants import GRANT_TYPES
from issuer.runtime import Runtime
from issuer.store import audit, clients, families, signing_keys, users
from issuer.store.models import AuditEvent, Client, SigningKey, User
from issuer.web.deps import RuntimeDep

__all__ = ["ADMIN_ROLE", "ADMIN_SCOPE", "AdminController", "require_admin"]

ADMIN_ROLE = "admin"
ADMIN_SCOPE = "issuer:admin"
BEARER_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]

Actor = NamedDependency[str]
Limit = Annotated[int, Parameter(ge=1, le=500, description="page size")]
Offset = Annotated[int, Parameter(ge=0, description="rows to skip")]


class Conflict(InvalidRequest):
    """The e-mail or client id is taken (RFC 9110 §15.5.10)."""

    status = 409


class ErrorBody(msgspec.Struct):
    """An error in the RFC 6749 §5.2 / RFC 6750 §3.1 shape."""

    error: str
    error_description: str | None = None


_ERRORS = {
    400: "invalid_request: malformed or invalid input",
    401: "invalid_token: no, invalid, expired or revoked access token (WWW-Authenticate: Bearer)",
    403: "insufficient_scope: the token has neither role admin nor scope issuer:admin",
    404: "not_found: no such user or key",
    409: "invalid_request: conflicts with the current state",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI error responses: 400, 401 and 403 on every admin route, plus `codes`."""
    return {
        code: ResponseSpec(ErrorBody, description=_ERRORS[code]) for code in (400, 401, 403, *codes)
    }


# ---- authorisation ---------------------------------------------------------------------


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a live access token for this issuer with role admin or scope issuer:admin."""
    runtime: Runtime = connection.app.state.runtime
    token = bearer_token(connection.headers.get("authorization"))
    live = await check_access_token(
        token,
        ring=runtime.keys.ring,
        database=runtime.database,
        issuer=runtime.settings.url,
        now=runtime.clock(),
        # The admin API is a resource of the issuer itself: a token for another service
        # must not open it.
        audiences=(runtime.settings.url,),
    )
    claims = live.claims
    if not (claims.has_roles(ADMIN_ROLE) or claims.has_scopes(ADMIN_SCOPE)):
        raise InsufficientScope(f"the admin API needs role {ADMIN_ROLE} or scope {ADMIN_SCOPE}")
    connection.state.admin_actor = claims.sub


def provide_actor(request: Request[Any, Any, Any]) -> str:
    """Who is acting, for the audit log: the admin token's `sub` (set by the guard)."""
    actor: str = request.state.admin_actor
    return actor


# ---- request and response bodies -------------------------------------------------------


class KeyOut(msgspec.Struct):
    """A signing key's lifecycle; only the public JWK, never private material."""

    kid: str
    alg: str
    state: str
    created_at: datetime
    published_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    unpublish_after: datetime | None
    revoked_at: datetime | None
    public_jwk: dict[str, str]


class RotateIn(msgspec.Struct, forbid_unknown_fields=True):
    """Rotate one alg, or every configured alg when `alg` is omitted."""

    alg: Literal["RS256", "EdDSA"] | None = None
    force: bool = False


class RotationOut(msgspec.Struct):
    """`outcome`: rotated, too_early (see wait_seconds) or lost_race (another rotation won)."""

    alg: str
    outcome: str
    message: str
    activated: str | None
    retired: str | None
    next: str | None
    wait_seconds: int
    risk: str | None


class RevocationOut(msgspec.Struct):
    kid: str
    alg: str
    previous_state: str
    message: str
    activated: str | None
    next: str | None
    risk: str | None


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    roles: list[str] = msgspec.field(default_factory=list)


class UserOut(msgspec.Struct):
    id: str
    email: str
    roles: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime


class UserDisabled(msgspec.Struct):
    user: UserOut
    sessions_revoked: int


class SessionsRevoked(msgspec.Struct):
    user_id: str
    sessions_revoked: int


if TYPE_CHECKING:
    GrantType = str
else:
    # The registry's grant types as an enum: validated by msgspec, listed in the OpenAPI.
    GrantType = Literal[GRANT_TYPES]


class NewClientIn(msgspec.Struct, forbid_unknown_fields=True):
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    grant_types: list[GrantType] = msgspec.field(default_factory=list)
    scopes: list[str] = msgspec.field(default_factory=list)
    audiences: list[str] = msgspec.field(default_factory=list)
    public: bool = False
    alg: Literal["RS256", "EdDSA"] | None = None
    access_token_ttl: Annotated[int, msgspec.Meta(ge=1)] | None = None
    refresh_token_ttl: Annotated[int, msgspec.Meta(ge=1)] | None = None


class ClientOut(msgspec.Struct):
    """A registered client; its secret digest is never shown."""

    client_id: str
    public: bool
    grant_types: list[str]
    scopes: list[str]
    audiences: list[str]
    alg: str | None
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    disabled: bool
    created_at: datetime


class ClientCreated(msgspec.Struct):
    """The new client and its secret, shown this once (null for a public client)."""

    client: ClientOut
    client_secret: str | None


class AuditOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


def _key(row: SigningKey) -> KeyOut:
    return KeyOut(
        kid=row.kid,
        alg=row.alg,
        state=row.state,
        created_at=row.created_at,
        published_at=row.published_at,
        activated_at=row.activated_at,
        retired_at=row.retired_at,
        unpublish_after=row.unpublish_after,
        revoked_at=row.revoked_at,
        public_jwk={name: str(value) for name, value in row.public_jwk.items()},
    )


def _user(row: User) -> UserOut:
    return UserOut(
        id=row.id,
        email=row.email,
        roles=list(row.roles),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _client(row: Client) -> ClientOut:
    return ClientOut(
        client_id=row.client_id,
        public=row.public,
        grant_types=list(row.grant_types),
        scopes=list(row.scopes),
        audiences=list(row.audiences),
        alg=row.alg,
        access_token_ttl=row.access_token_ttl,
        refresh_token_ttl=row.refresh_token_ttl,
        disabled=row.disabled,
        created_at=row.created_at,
    )


def _audit(row: AuditEvent) -> AuditOut:
    return AuditOut(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        detail=dict(row.detail),
    )


# ---- the controller --------------------------------------------------------------------


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]
    guards = [require_admin]
    dependencies = {"actor": Provide(provide_actor, sync_to_thread=False)}
    security = BEARER_SECURITY

    @get("/keys", summary="List signing keys (public material only)", responses=errors())
    async def list_keys(self, runtime: RuntimeDep) -> list[KeyOut]:
        async with runtime.database.session() as session:
            return [_key(row) for row in await signing_keys.all_keys(session)]

    @post(
        "/keys/rotate",
        status_code=200,
        summary="Rotate signing keys (next → active)",
        responses=errors(409),
    )
    async def rotate_keys(
        self, runtime: RuntimeDep, actor: Actor, data: JSONBody[RotateIn | None] = None
    ) -> list[RotationOut]:
        """Refused with 409 and Retry-After while the next key is younger than the JWKS
        max-age plus the ring refresh delay, unless `force` (which says what it risks)."""
        request = data or RotateIn()
        algs = [request.alg] if request.alg else list(runtime.settings.signing_algs)
        results: list[rotation.Rotation] = []
        for alg in algs:
            try:
                results.append(
                    await rotation.rotate(
                        runtime.database,
                        settings=runtime.settings,
                        kek=runtime.kek,
                        alg=alg,
                        force=request.force,
                        now=runtime.clock(),
                        actor=actor,
                    )
                )
            except rotation.KeyOperationError as exc:
                raise InvalidRequest(str(exc)) from None
        if any(result.outcome != "too_early" for result in results):
            await runtime.keys.refresh()
        else:
            wait = max(int(result.wait.total_seconds() + 0.999) for result in results)
            raise Conflict(
                "; ".join(result.message for result in results),
                headers={"Retry-After": str(max(1, wait))},
            )
        return [
            RotationOut(
                alg=result.alg,
                outcome=result.outcome,
                message=result.message,
                activated=result.activated,
                retired=result.retired,
                next=result.next,
                wait_seconds=int(result.wait.total_seconds() + 0.999),
                risk=result.risk,
            )
            for result in results
        ]

    @post(
        "/keys/{kid:str}/revoke",
        status_code=200,
        summary="Revoke a key now (compromise)",
        responses=errors(404, 409),
    )
    async def revoke_key(
        self, runtime: RuntimeDep, actor: Actor, kid: FromPath[str]
    ) -> RevocationOut:
        """The key leaves the JWKS at once; revoking the active key promotes the next one."""
        async with runtime.database.session() as session:
            if await signing_keys.by_kid(session, kid) is None:
                raise NotFound("no signing key with that kid")
        try:
            result = await rotation.revoke(
                runtime.database,
                settings=runtime.settings,
                kek=runtime.kek,
                kid=kid,
                now=runtime.clock(),
                actor=actor,
            )
        except rotation.KeyOperationError as exc:
            raise Conflict(str(exc)) from None
        await runtime.keys.refresh()
        return RevocationOut(
            kid=result.kid,
            alg=result.alg,
            previous_state=result.previous_state,
            message=result.message,
            activated=result.activated,
            next=result.next,
            risk=result.risk,
        )

    @post("/users", summary="Create a user", responses=errors(409))
    async def add_user(self, runtime: RuntimeDep, actor: Actor, data: JSONBody[NewUser]) -> UserOut:
        now = runtime.clock()
        async with runtime.database.session() as session:
            try:
                if await users.by_email(session, normalise_email(data.email)) is not None:
                    raise Conflict(f"a user with e-mail {data.email.strip().lower()} exists")
                user = await create_user(
                    session,
                    email=data.email,
                    password=data.password,
                    roles=data.roles,
                    now=now,
                    actor=actor,
                )
            except AccountError as exc:
                raise InvalidRequest(str(exc)) from None
            return _user(user)

    @get("/users", summary="List users", responses=errors())
    async def list_users(
        self, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
    ) -> list[UserOut]:
        async with runtime.database.session() as session:
            rows = await users.listing(session, limit=limit, offset=offset)
            return [_user(row) for row in rows]

    @post(
        "/users/{user_id:str}/disable",
        status_code=200,
        summary="Disable a user",
        responses=errors(404),
    )
    async def disable_user(
        self, runtime: RuntimeDep, actor: Actor, user_id: FromPath[str]
    ) -> UserDisabled:
        """Refuses the user's logins and ends every refresh family (reason user_disabled)."""
        now = runtime.clock()
        async with runtime.database.session() as session:
            if not await users.set_disabled(session, user_id, True):
                raise NotFound("no such user")
            ended = await families.revoke_for_user(
                session, user_id, reason="user_disabled", now=now
            )
            audit.record(
                session,
                now=now,
                actor=actor,
                action="user.disable",
                subject=user_id,
                detail={"families_revoked": len(ended)},
            )
            user = await users.by_id(session, user_id)
            assert user is not None
            result = UserDisabled(user=_user(user), sessions_revoked=len(ended))
        if ended:
            REVOCATIONS.labels(kind="family").inc(len(ended))
        return result

    @post(
        "/users/{user_id:str}/enable",
        status_code=200,
        summary="Enable a user",
        responses=errors(404),
    )
    async def enable_user(
        self, runtime: RuntimeDep, actor: Actor, user_id: FromPath[str]
    ) -> UserOut:
        now = runtime.clock()
        async with runtime.database.session() as session:
            if not await users.set_disabled(session, user_id, False):
                raise NotFound("no such user")
            audit.record(session, now=now, actor=actor, action="user.enable", subject=user_id)
            user = await users.by_id(session, user_id)
            assert user is not None
            return _user(user)

    @post(
        "/users/{user_id:str}/revoke-sessions",
        status_code=200,
        summary="Revoke every refresh family of a user (logout everywhere)",
        responses=errors(404),
    )
    async def revoke_sessions(
        self, runtime: RuntimeDep, actor: Actor, user_id: FromPath[str]
    ) -> SessionsRevoked:
        now = runtime.clock()
        async with runtime.database.session() as session:
            if await users.by_id(session, user_id) is None:
                raise NotFound("no such user")
            ended = await families.revoke_for_user(session, user_id, reason="logout_all", now=now)
            audit.record(
                session,
                now=now,
                actor=actor,
                action="user.revoke_sessions",
                subject=user_id,
                detail={"families_revoked": len(ended)},
            )
        if ended:
            REVOCATIONS.labels(kind="family").inc(len(ended))
        return SessionsRevoked(user_id=user_id, sessions_revoked=len(ended))

    @post("/clients", summary="Register a client; the secret is shown once", responses=errors(409))
    async def add_client(
        self, runtime: RuntimeDep, actor: Actor, data: JSONBody[NewClientIn]
    ) -> ClientCreated:
        now = runtime.clock()
        async with runtime.database.session() as session:
            if await clients.by_id(session, data.client_id) is not None:
                raise Conflict(f"a client with id {data.client_id} exists")
            try:
                new = await create_client(
                    session,
                    client_id=data.client_id,
                    grant_types=data.grant_types,
                    scopes=data.scopes,
                    audiences=data.audiences,
                    default_audience=runtime.settings.url,
                    public=data.public,
                    alg=data.alg,
                    access_token_ttl=data.access_token_ttl,
                    refresh_token_ttl=data.refresh_token_ttl,
                    now=now,
                    actor=actor,
                )
            except AccountError as exc:
                raise InvalidRequest(str(exc)) from None
            return ClientCreated(client=_client(new.client), client_secret=new.secret)

    @get("/clients", summary="List clients (never their secrets)", responses=errors())
    async def list_clients(
        self, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
    ) -> list[ClientOut]:
        async with runtime.database.session() as session:
            rows = await clients.listing(session, limit=limit, offset=offset)
            return [_client(row) for row in rows]

    @get("/audit", summary="Read the audit log, newest first", responses=errors())
    async def list_audit(
        self,
        runtime: RuntimeDep,
        limit: Limit = 100,
        action: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> list[AuditOut]:
        async with runtime.database.session() as session:
            rows = await audit.recent(session, limit=limit, action=action)
            return [_audit(row) for row in rows]
