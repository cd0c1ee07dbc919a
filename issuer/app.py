"""create_app(settings) → Litestar: routes, DI, error handlers and lifespan in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from issuer.clock import Clock, utcnow
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.web import discovery, health, introspection, jwks, revocation, token, userinfo
from issuer.web import metrics as metrics_routes
from issuer.web.admin import admin_router
from issuer.web.allow import repair_options_allow
from issuer.web.bare_paths import OpenAPIDocument
from issuer.web.body_timeout import receive_by_deadline
from issuer.web.deps import DEPENDENCIES
from issuer.web.errors import EXCEPTION_HANDLERS, http_error_response
from issuer.web.jwks import JWKS_PATH
from issuer.web.metrics import observe_request
from issuer.web.openapi import OPENAPI_PLUGINS
from issuer.web.pages import TEMPLATE_CONFIG, pages_router
from issuer.web.pages.errors import or_page
from issuer.web.requests import serve_with_request_id
from issuer.web.responses import security_headers

__all__ = ["PROTOCOL_ROUTES", "ROOT_ROUTES", "IssuerApp", "create_app", "create_app_from_env"]

# Everything a client or resource server calls: served under ISSUER_URL's path, so that
# with ISSUER_URL=https://id.example.com/tenant-a the token endpoint is
# /tenant-a/oauth/token. Add a module's route handlers or controllers here.
PROTOCOL_ROUTES: list[ControllerRouterHandler] = [
    *jwks.ROUTES,
    *discovery.ROUTES,
    *token.ROUTES,
    *revocation.ROUTES,
    *introspection.ROUTES,
    *userinfo.ROUTES,
    admin_router,
    pages_router,
]

# Per-process operational routes: always at the root, whatever ISSUER_URL's path is.
ROOT_ROUTES: list[ControllerRouterHandler] = [*health.ROUTES, *metrics_routes.ROUTES]


class IssuerApp(Litestar):
    """The Litestar app, with a GET of the JWKS answered before routing and middleware.

    Every resource server polls the JWKS; it is a precomputed body and ETag per key-ring
    version, so the framework would be most of its cost. Its latency is still recorded.
    Every other request's body must arrive within ISSUER_BODY_READ_TIMEOUT_SECONDS
    (`issuer.web.body_timeout`).
    """

    jwks_path: str = JWKS_PATH
    body_read_timeout: float = 10.0
    access_log: bool = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def respond(send: Any) -> None:
            if scope["path"] == self.jwks_path and scope["method"] == "GET":
                started = perf_counter()
                scope["app"] = scope["litestar_app"] = self
                status = await jwks.serve_jwks(scope, send)
                observe_request(self.jwks_path, status, perf_counter() - started)
                return
            await super(IssuerApp, self).__call__(
                scope, receive_by_deadline(receive, self.body_read_timeout), send
            )

        # Every request has an id (X-Request-Id) in its log records and its response.
        await serve_with_request_id(scope, send, respond, log_access=self.access_log)


def create_app(settings: Settings, *, clock: Clock = utcnow) -> IssuerApp:
    """Build the app; nothing touches the database until the lifespan starts it."""
    runtime = Runtime(settings, clock)
    prefix = urlsplit(settings.url).path.rstrip("/")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = IssuerApp(
        # Routers, not bare handlers: Litestar deep-copies a router it registers, so each app
        # gets its own handlers. A handler registered directly is shallow-copied and shares
        # its cached response handler (with this app's response headers) with every other app
        # in the process.
        route_handlers=[
            Router(path="/", route_handlers=[*ROOT_ROUTES, *discovery.root_routes(prefix)]),
            Router(path=prefix or "/", route_handlers=PROTOCOL_ROUTES),
        ],
        # The one place the runtime is stored; web code reads it through issuer.web.deps.
        state=State({"runtime": runtime}),
        dependencies=DEPENDENCIES,
        exception_handlers={
            **EXCEPTION_HANDLERS,  # type: ignore[dict-item]
            # Routing's 404 and 405: an HTML page on a page's path.
            HTTPException: or_page(http_error_response),
        },
        lifespan=[lifespan],
        middleware=[metrics_routes.latency_middleware],
        plugins=OPENAPI_PLUGINS,
        request_max_body_size=settings.max_body_bytes,
        template_config=TEMPLATE_CONFIG,
        # Litestar routes; the bare-ASGI paths and the error handlers add the same headers.
        response_headers=security_headers(settings.url),
        openapi_config=OpenAPIConfig(
            title="issuer",
            version="0.1.0",
            path="/schema",
            # The JSON document only (at /schema and /schema/openapi.json): Litestar's HTML
            # UIs (Swagger, ReDoc, Elements, …) load scripts, styles and a favicon from CDNs
            # without integrity checks. Point any OpenAPI viewer at /schema/openapi.json.
            # The bare ASGI routes (protocol endpoints, JWKS) and the operational ones are
            # added by hand (issuer.web.bare_paths), so that the document lists every route.
            render_plugins=[OpenAPIDocument(prefix)],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", bearer_format="JWT (RFC 9068)"
                    )
                }
            ),
        ),
        debug=False,
        # Logging is the process's (issuer.logs, set up by `issuer serve`): Litestar's default
        # would give the root logger a plain-text handler of its own.
        logging_config=None,
    )
    repair_options_allow(app)
    app.jwks_path = prefix + JWKS_PATH
    app.body_read_timeout = settings.body_read_timeout_seconds
    app.access_log = settings.access_log
    return app


def create_app_from_env() -> IssuerApp:
    """The factory `issuer serve` hands to the ASGI server (each worker builds its own)."""
    return create_app(Settings.from_env())
