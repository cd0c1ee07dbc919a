"""The admin API under /admin: keys, users, clients and the audit log.

One module per resource, each a thin controller (parse, call, render); the business steps
live in `issuer.accounts` and `issuer.keyring.rotation`, which the CLI calls too. The
router adds what every admin route shares: the guard (`guard.py`), no NUL in any path or
query parameter, the acting admin for
the audit log, bearer security in the OpenAPI document, and `Cache-Control: no-store` on
every answer (one carries a client secret; all of them describe accounts). Every change
writes an audit event in the same transaction, with the token's `sub` as the actor.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide

from issuer.web.admin.audit import AuditController
from issuer.web.admin.clients import ClientsController
from issuer.web.admin.guard import (
    ADMIN_ROLE,
    ADMIN_SCOPE,
    BEARER_SECURITY,
    provide_actor,
    require_admin,
)
from issuer.web.admin.keys import KeysController
from issuer.web.admin.schemas import refuse_nul_parameters
from issuer.web.admin.users import UsersController

__all__ = ["ADMIN_ROLE", "ADMIN_SCOPE", "admin_router", "require_admin"]

admin_router = Router(
    path="/admin",
    route_handlers=[KeysController, UsersController, ClientsController, AuditController],
    guards=[require_admin],
    dependencies={"actor": Provide(provide_actor, sync_to_thread=False)},
    security=BEARER_SECURITY,
    tags=["admin"],
    cache_control=CacheControlHeader(no_store=True),
    before_request=refuse_nul_parameters,
)
