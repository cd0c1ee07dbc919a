"""The admin API under /admin: keys, users, clients and the audit log.

One module per resource, each a thin controller (parse, call, render); the business steps
live in `issuer.accounts` and `issuer.keyring.rotation`, which the CLI calls too. The
router adds what every admin route shares: the guard (`guard.py`), no NUL in any path or
query parameter, the acting admin for
the audit log, bearer security in the OpenAPI document, `Cache-Control: no-store` on
every answer (one carries a client secret; all of them describe accounts), and the one
rendering of account outcomes as HTTP errors (`account_error_response`). Every change
writes an audit event in the same transaction, with the token's `sub` as the actor.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide

from issuer.accounts.clients import ClientInUse
from issuer.accounts.users import AccountError, AccountExists, LastAdmin, UnknownAccount
from issuer.errors import InvalidRequest, NotFound, OAuthError
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
from issuer.web.admin.schemas import Conflict, refuse_nul_parameters
from issuer.web.admin.users import UsersController
from issuer.web.errors import oauth_error_response

__all__ = ["ADMIN_ROLE", "ADMIN_SCOPE", "account_error_response", "admin_router", "require_admin"]

# The business steps (`issuer.accounts`) say what went wrong; here it becomes a status.
# First match wins: the specific outcomes before their base class.
_ACCOUNT_ERRORS: tuple[tuple[type[Exception], type[OAuthError]], ...] = (
    (UnknownAccount, NotFound),
    (AccountExists, Conflict),
    (LastAdmin, Conflict),
    (ClientInUse, Conflict),
    (AccountError, InvalidRequest),
)


def account_error_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, str]]:
    """404 for an unknown user or client, 409 for a taken id, the last admin or a client
    still in use, 400 for any other refused account change."""
    error = next(error for kind, error in _ACCOUNT_ERRORS if isinstance(exc, kind))
    return oauth_error_response(request, error(str(exc)))


admin_router = Router(
    path="/admin",
    route_handlers=[KeysController, UsersController, ClientsController, AuditController],
    guards=[require_admin],
    dependencies={"actor": Provide(provide_actor, sync_to_thread=False)},
    security=BEARER_SECURITY,
    tags=["admin"],
    cache_control=CacheControlHeader(no_store=True),
    before_request=refuse_nul_parameters,
    exception_handlers={
        AccountError: account_error_response,
        UnknownAccount: account_error_response,
    },
)
