"""An example resource service protected by issuer.verify.

Run against a local issuer:
    ISSUER_URL=http://127.0.0.1:8000 RESOURCE_AUDIENCE=orders-api \\
        uvicorn examples.resource_service.app:app --port 9000
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, get

from issuer.verify import Verifier
from issuer.verify.litestar import (
    BearerAuth,
    Claims,
    OptionalClaims,
    requires_roles,
    requires_scopes,
)


@get("/public")
async def public(optional_claims: OptionalClaims) -> dict[str, Any]:
    """Anyone; a caller with a valid token is greeted by subject, a bad token gets 401."""
    return {"hello": optional_claims.sub if optional_claims else "anonymous"}


@get("/me")
async def me(claims: Claims) -> dict[str, Any]:
    """Any valid access token, user or client."""
    return {
        "sub": claims.sub,
        "client_id": claims.client_id,
        "scope": sorted(claims.scope),
        "roles": sorted(claims.roles),
    }


@get("/orders", guards=[requires_scopes("orders:read")])
async def orders(claims: Claims) -> dict[str, Any]:
    """Needs the `orders:read` scope (users and service clients alike)."""
    return {"owner": claims.sub, "orders": []}


@get("/admin/stats", guards=[requires_roles("admin")])
async def admin_stats(claims: Claims) -> dict[str, Any]:
    """Needs a user token with the `admin` role."""
    return {"admin": claims.sub, "orders_total": 0}


def create_app(verifier: Verifier | None = None) -> Litestar:
    """The app; tests pass their own verifier, deployments configure it by environment."""
    if verifier is None:
        verifier = Verifier(
            os.environ.get("ISSUER_URL", "http://127.0.0.1:8000"),
            os.environ.get("RESOURCE_AUDIENCE", "orders-api"),
        )
    return Litestar([public, me, orders, admin_stats], plugins=[BearerAuth(verifier)])


def __getattr__(name: str) -> Litestar:
    # `app` is built on first access, so importing this module reads no environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
