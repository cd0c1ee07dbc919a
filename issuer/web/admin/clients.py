"""/admin/clients: register (the secret shown once), list, show, change, disable, enable,
rotate the secret, delete. The steps are `issuer.accounts.clients`, shared with the CLI.

Every change makes this process's client cache forget the client at once (it caches hits
and misses); other processes see it within `CLIENT_CACHE_SECONDS`.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter

from issuer.accounts import clients as accounts
from issuer.runtime import Runtime
from issuer.store import clients
from issuer.web.admin.guard import Actor
from issuer.web.admin.schemas import (
    ClientChange,
    ClientCreated,
    ClientDeleted,
    ClientDisabled,
    ClientOut,
    Limit,
    NewClientIn,
    Offset,
    RotateSecretIn,
    SecretRotated,
    errors,
)
from issuer.web.deps import RuntimeDep
from issuer.web.openapi import OptionalBody

__all__ = ["ClientsController"]


def forget(runtime: Runtime, client_id: str) -> None:
    """This process's client cache must not answer with the client as it was."""
    runtime.server.clients.forget(client_id)


class ClientsController(Controller):
    path = "/clients"

    @post(summary="Register a client; the secret is shown once", responses=errors(409))
    async def add_client(
        self, runtime: RuntimeDep, actor: Actor, data: JSONBody[NewClientIn]
    ) -> ClientCreated:
        async with runtime.database.session() as session:
            new = await accounts.create_client(
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
                introspect_any=data.introspect_any,
                name=data.name,
                redirect_uris=data.redirect_uris,
                post_logout_redirect_uris=data.post_logout_redirect_uris,
                consent_required=data.consent_required,
                id_token_alg=data.id_token_alg,
                now=runtime.clock(),
                actor=actor,
            )
        forget(runtime, data.client_id)  # an unknown id may be cached as a miss
        return ClientCreated(client=ClientOut.of(new.client), client_secret=new.secret)

    @get(summary="List clients (never their secrets)", responses=errors())
    async def list_clients(
        self, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
    ) -> list[ClientOut]:
        async with runtime.database.session() as session:
            rows = await clients.listing(session, limit=limit, offset=offset)
        return [ClientOut.of(row) for row in rows]

    @get("/{client_id:str}", summary="Show a client (never its secret)", responses=errors(404))
    async def show_client(self, runtime: RuntimeDep, client_id: FromPath[str]) -> ClientOut:
        return ClientOut.of(await accounts.get_client(runtime.database, client_id))

    @patch(
        "/{client_id:str}",
        summary="Change a client's grant types, scopes, audiences, algs, lifetimes or login",
        responses=errors(404),
    )
    async def update_client(
        self,
        runtime: RuntimeDep,
        actor: Actor,
        client_id: FromPath[str],
        data: JSONBody[ClientChange],
    ) -> ClientOut:
        row = await accounts.update_client(
            runtime.database, client_id, data.changes(), now=runtime.clock(), actor=actor
        )
        forget(runtime, client_id)
        return ClientOut.of(row)

    @post(
        "/{client_id:str}/disable",
        status_code=200,
        summary="Disable a client: refused everywhere, its sessions revoked",
        responses=errors(404),
    )
    async def disable_client(
        self, runtime: RuntimeDep, actor: Actor, client_id: FromPath[str]
    ) -> ClientDisabled:
        done = await accounts.disable_client(
            runtime.database, client_id, now=runtime.clock(), actor=actor
        )
        forget(runtime, client_id)
        return ClientDisabled(
            client=ClientOut.of(done.client), sessions_revoked=done.sessions_revoked
        )

    @post(
        "/{client_id:str}/enable", status_code=200, summary="Enable a client", responses=errors(404)
    )
    async def enable_client(
        self, runtime: RuntimeDep, actor: Actor, client_id: FromPath[str]
    ) -> ClientOut:
        row = await accounts.enable_client(
            runtime.database, client_id, now=runtime.clock(), actor=actor
        )
        forget(runtime, client_id)
        return ClientOut.of(row)

    @post(
        "/{client_id:str}/rotate-secret",
        status_code=200,
        summary="Rotate a client's secret; the new one is shown once",
        responses=errors(404),
        operation_class=OptionalBody,
    )
    async def rotate_secret(
        self,
        runtime: RuntimeDep,
        actor: Actor,
        client_id: FromPath[str],
        data: JSONBody[RotateSecretIn | None] = None,
    ) -> SecretRotated:
        """The old secret keeps working for `overlap_seconds` (default
        ISSUER_CLIENT_SECRET_OVERLAP_SECONDS, itself 0 by default)."""
        overlap = data.overlap_seconds if data else None
        new = await accounts.rotate_secret(
            runtime.database,
            client_id,
            overlap_seconds=(
                runtime.settings.client_secret_overlap_seconds if overlap is None else overlap
            ),
            now=runtime.clock(),
            actor=actor,
        )
        forget(runtime, client_id)
        return SecretRotated(
            client=ClientOut.of(new.client),
            client_secret=new.secret,
            rotation_overlap_until=new.previous_valid_until,
        )

    @delete(
        "/{client_id:str}",
        status_code=200,
        summary="Delete a client (409 while it has live sessions, unless force=true)",
        responses=errors(404, 409),
    )
    async def delete_client(
        self,
        runtime: RuntimeDep,
        actor: Actor,
        client_id: FromPath[str],
        force: Annotated[
            bool, Parameter(description="revoke its live sessions and delete anyway")
        ] = False,
    ) -> ClientDeleted:
        """With `force=true`, its live sessions are revoked (audited) and deleted with it."""
        ended = await accounts.delete_client(
            runtime.database, client_id, force=force, now=runtime.clock(), actor=actor
        )
        forget(runtime, client_id)
        return ClientDeleted(client_id=client_id, sessions_revoked=ended)
