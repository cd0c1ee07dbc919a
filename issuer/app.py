"""create_app(settings) → Litestar: routes, DI, error handlers and lifespan in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from issuer.clock import Clock, utcnow
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.web import health
from issuer.web.admin import AdminController
from issuer.web.deps import DEPENDENCIES
from issuer.web.errors import EXCEPTION_HANDLERS

__all__ = ["create_app", "create_app_from_env"]


def create_app(settings: Settings, *, clock: Clock = utcnow) -> Litestar:
    """Build the app; nothing touches the database until the lifespan starts it."""
    runtime = Runtime(settings, clock)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    return Litestar(
        route_handlers=[*health.ROUTES, AdminController],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="issuer",
            version="0.1.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", bearer_format="JWT (RFC 9068)"
                    )
                }
            ),
        ),
        debug=False,
    )


def create_app_from_env() -> Litestar:
    """The factory `issuer serve` hands to the ASGI server (each worker builds its own)."""
    return create_app(Settings.from_env())
