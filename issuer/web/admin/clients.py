"""/admin/clients: register a client (its secret shown once), list clients."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from issuer.accounts.clients import create_client
from issuer.accounts.users import AccountError, AccountExists
from issuer.errors import InvalidRequest
from issuer.store import clients
from issuer.web.admin.guard import Actor
from issuer.web.admin.schemas import (
    ClientCreated,
    ClientOut,
    Conflict,
    Limit,
    NewClientIn,
    Offset,
    errors,
)
from issuer.web.deps import RuntimeDep

__all__ = ["ClientsController"]


class ClientsController(Controller):
    path = "/clients"

    @post(summary="Register a client; the secret is shown once", responses=errors(409))
    async def add_client(
        self, runtime: RuntimeDep, actor: Actor, data: JSONBody[NewClientIn]
    ) -> ClientCreated:
        async with runtime.database.session() as session:
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
                    introspect_any=data.introspect_any,
                    now=runtime.clock(),
                    actor=actor,
                )
            except AccountExists as exc:
                raise Conflict(str(exc)) from None
            except AccountError as exc:
                raise InvalidRequest(str(exc)) from None
        return ClientCreated(client=ClientOut.of(new.client), client_secret=new.secret)

    @get(summary="List clients (never their secrets)", responses=errors())
    async def list_clients(
        self, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
    ) -> list[ClientOut]:
        async with runtime.database.session() as session:
            rows = await clients.listing(session, limit=limit, offset=offset)
        return [ClientOut.of(row) for row in rows]
