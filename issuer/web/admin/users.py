"""/admin/users: create, list, disable, enable, revoke a user's sessions or consents."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from issuer.accounts import users as accounts
from issuer.store import users
from issuer.web.admin.guard import Actor
from issuer.web.admin.schemas import (
    ConsentsRevoked,
    Limit,
    NewUser,
    Offset,
    RevokeConsentsIn,
    SessionsRevoked,
    UserDisabled,
    UserOut,
    errors,
)
from issuer.web.deps import RuntimeDep
from issuer.web.openapi import OptionalBody

__all__ = ["UsersController"]


class UsersController(Controller):
    path = "/users"

    @post(summary="Create a user", responses=errors(409))
    async def add_user(self, runtime: RuntimeDep, actor: Actor, data: JSONBody[NewUser]) -> UserOut:
        async with runtime.database.session() as session:
            user = await accounts.create_user(
                session,
                email=data.email,
                password=data.password,
                roles=data.roles,
                now=runtime.clock(),
                actor=actor,
            )
        return UserOut.of(user)

    @get(summary="List users", responses=errors())
    async def list_users(
        self, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
    ) -> list[UserOut]:
        async with runtime.database.session() as session:
            rows = await users.listing(session, limit=limit, offset=offset)
        return [UserOut.of(row) for row in rows]

    @post(
        "/{user_id:str}/disable",
        status_code=200,
        summary="Disable a user (never the last enabled admin: 409)",
        responses=errors(404, 409),
    )
    async def disable_user(
        self, runtime: RuntimeDep, actor: Actor, user_id: FromPath[str]
    ) -> UserDisabled:
        """Refuses the user's logins and ends every refresh family (reason user_disabled)."""
        ended = await accounts.disable_user(
            runtime.database, user_id, now=runtime.clock(), actor=actor
        )
        return UserDisabled(user=UserOut.of(ended.user), sessions_revoked=ended.sessions_revoked)

    @post("/{user_id:str}/enable", status_code=200, summary="Enable a user", responses=errors(404))
    async def enable_user(
        self, runtime: RuntimeDep, actor: Actor, user_id: FromPath[str]
    ) -> UserOut:
        user = await accounts.enable_user(
            runtime.database, user_id, now=runtime.clock(), actor=actor
        )
        return UserOut.of(user)

    @post(
        "/{user_id:str}/revoke-sessions",
        status_code=200,
        summary="Revoke every refresh family and browser session of a user (logout everywhere)",
        responses=errors(404),
    )
    async def revoke_sessions(
        self, runtime: RuntimeDep, actor: Actor, user_id: FromPath[str]
    ) -> SessionsRevoked:
        ended = await accounts.revoke_sessions(
            runtime.database, user_id, now=runtime.clock(), actor=actor
        )
        return SessionsRevoked(user_id=user_id, sessions_revoked=ended.sessions_revoked)

    @post(
        "/{user_id:str}/revoke-consents",
        status_code=200,
        summary="Forget a user's consents (to one client, or all): the consent page asks again",
        responses=errors(404),
        operation_class=OptionalBody,
    )
    async def revoke_consents(
        self,
        runtime: RuntimeDep,
        actor: Actor,
        user_id: FromPath[str],
        data: JSONBody[RevokeConsentsIn | None] = None,
    ) -> ConsentsRevoked:
        client_id = data.client_id if data else None
        forgotten = await accounts.revoke_consents(
            runtime.database, user_id, client_id=client_id, now=runtime.clock(), actor=actor
        )
        return ConsentsRevoked(user_id=user_id, client_id=client_id, consents_revoked=forgotten)
