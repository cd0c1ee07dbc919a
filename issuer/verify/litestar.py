"""Litestar integration: bearer-token dependencies and scope/role guards (RFC 6750).

Setup: `Litestar(..., plugins=[BearerAuth(verifier)])`; handlers then ask for
`claims: Claims` or `optional_claims: OptionalClaims`; routes add
`guards=[requires_scopes("x")]` or `guards=[requires_roles("admin")]`.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from litestar import Request
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins import InitPlugin
from litestar.types import Guard

from issuer.jose.claims import AccessTokenClaims
from issuer.jose.errors import Reason, VerificationError

from ._verifier import Verifier

__all__ = ["BearerAuth", "Claims", "OptionalClaims", "requires_roles", "requires_scopes"]

Claims: TypeAlias = NamedDependency[AccessTokenClaims]
"""Annotation for the `claims` dependency: `async def h(claims: Claims)`."""
OptionalClaims: TypeAlias = NamedDependency[AccessTokenClaims | None]
"""Annotation for the `optional_claims` dependency (None when no Authorization header)."""

log = logging.getLogger("issuer.verify")
_STATE_KEY = "issuer.verify.claims"
_ANONYMOUS = object()


def _challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    # RFC 6750 §3: no error code when the request carried no credentials at all.
    params = [f'error="{error}"'] if error else []
    if description:
        params.append(f'error_description="{description}"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


def _unauthorized(error: str | None, description: str) -> NotAuthorizedException:
    header = _challenge(error, description if error else "")
    return NotAuthorizedException(detail=description, headers={"WWW-Authenticate": header})


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token from `Authorization: Bearer …` (RFC 6750 §2.1); None if no header."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    # RFC 9110 §11.1: the auth scheme is case-insensitive.
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("invalid_token", "expected a Bearer token")
    return token.strip()


class BearerAuth(InitPlugin):
    """Registers `claims` and `optional_claims` dependencies and closes the verifier."""

    __slots__ = ("claims_key", "optional_claims_key", "verifier")

    def __init__(
        self,
        verifier: Verifier,
        *,
        claims_key: str = "claims",
        optional_claims_key: str = "optional_claims",
    ) -> None:
        self.verifier = verifier
        self.claims_key = claims_key
        self.optional_claims_key = optional_claims_key

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.dependencies[self.claims_key] = Provide(self.required)
        app_config.dependencies[self.optional_claims_key] = Provide(self.optional)
        app_config.on_shutdown.append(self.verifier.aclose)
        return app_config

    async def authenticate(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AccessTokenClaims | None:
        """Verify once per request (guards and dependencies share the result)."""
        cached = connection.scope.setdefault("state", {}).get(_STATE_KEY)
        if cached is not None:
            return None if cached is _ANONYMOUS else cached
        token = _bearer_token(connection)
        if token is None:
            claims = None
        else:
            try:
                claims = await self.verifier.averify(token)
            except VerificationError as error:
                log.info("bearer token refused: %s", error)
                if error.reason is Reason.JWKS_UNAVAILABLE:
                    raise ServiceUnavailableException(headers={"Retry-After": "30"}) from error
                raise _unauthorized("invalid_token", error.reason.value) from error
        connection.scope["state"][_STATE_KEY] = _ANONYMOUS if claims is None else claims
        return claims

    async def required(self, request: Request[Any, Any, Any]) -> AccessTokenClaims:
        """Dependency: the handler never runs without a valid access token."""
        claims = await self.authenticate(request)
        if claims is None:
            raise _unauthorized(None, "a Bearer access token is required")
        return claims

    async def optional(self, request: Request[Any, Any, Any]) -> AccessTokenClaims | None:
        """Dependency: no header means anonymous (None); a bad header is still a 401."""
        return await self.authenticate(request)


async def _guard_claims(connection: ASGIConnection[Any, Any, Any, Any]) -> AccessTokenClaims:
    claims = await connection.app.plugins.get(BearerAuth).authenticate(connection)
    if claims is None:
        raise _unauthorized(None, "a Bearer access token is required")
    return claims


def requires_scopes(*scopes: str) -> Guard:
    """Guard: 403 `insufficient_scope` unless the token grants every scope (RFC 6750 §3.1)."""
    needed = " ".join(scopes)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not (await _guard_claims(connection)).has_scopes(*scopes):
            raise PermissionDeniedException(
                detail=f"requires scope {needed}",
                headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=needed)},
            )

    return guard


def requires_roles(*roles: str) -> Guard:
    """Guard: 403 unless the token carries every role (client tokens carry none)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not (await _guard_claims(connection)).has_roles(*roles):
            raise PermissionDeniedException(detail=f"requires role {' '.join(roles)}")

    return guard
