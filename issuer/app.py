"""create_app(settings) → Litestar: routes, DI, error handlers and lifespan in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import ASGIRoute, HTTPRoute
from litestar.types import ControllerRouterHandler, Receive, Scope, Send

from issuer.clock import Clock, utcnow
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.web import discovery, health, introspection, jwks, revocation, token, userinfo
from issuer.web import metrics as metrics_routes
from issuer.web.admin import admin_router
from issuer.web.allow import repair_options_allow
from issuer.web.bare_paths import OpenAPIDocument
from issuer.web.deps import DEPENDENCIES
from issuer.web.errors import EXCEPTION_HANDLERS, http_error_response
from issuer.web.openapi import OPENAPI_PLUGINS
from issuer.web.pages import TEMPLATE_CONFIG, pages_router
from issuer.web.pages.errors import or_page
from issuer.web.protocol import BARE_HANDLER, BARE_METHODS
from issuer.web.requests import serve_request
from issuer.web.responses import security_headers

__all__ = [
    "PROTOCOL_ROUTES",
    "ROOT_ROUTES",
    "BareRoute",
    "IssuerApp",
    "bare_routes",
    "create_app",
    "create_app_from_env",
]

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


@dataclass(frozen=True, slots=True)
class BareRoute:
    """A route `IssuerApp` answers before routing: its template (the latency label), its
    ASGI handler, and the exception handlers its layers resolve to (the pages' own for a
    page). A handler that returns False has not answered: the request is routed as usual."""

    template: str
    handler: Callable[[Scope, Receive, Send], Awaitable[bool | None]]
    exception_handlers: Mapping[Any, Any]


class IssuerApp(Litestar):
    """The Litestar app, with the hottest paths answered before routing and middleware.

    Every resource server polls the JWKS and every client calls the protocol endpoints and
    the authorization endpoint: their handlers are bare ASGI (`issuer.web.protocol`), so
    the framework's routing, request scope copies and middleware would be most of their
    cost. `IssuerApp` calls them directly for the methods they answer (`bare_routes`, from
    the handlers' `opt`); their errors go through the exception handlers their route
    resolves. Every request, bare or routed, passes `issuer.web.requests.serve_request`
    once (id, body deadline, latency, access log).
    """

    # (method, path) → the route answered before routing
    bare_routes: dict[tuple[str, str], BareRoute] = {}
    body_read_timeout: float = 10.0
    access_log: bool = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        await serve_request(
            scope,
            receive,
            send,
            self._respond,
            body_read_timeout=self.body_read_timeout,
            log_access=self.access_log,
        )

    async def _respond(self, scope: Any, receive: Any, send: Any) -> None:
        bare = self.bare_routes.get((scope["method"], scope["path"]))
        if bare is None or not await self._answer_bare(bare, scope, receive, send):
            await super().__call__(scope, receive, send)

    async def _answer_bare(self, bare: BareRoute, scope: Any, receive: Any, send: Any) -> bool:
        """Whether the bare handler answered (an error it raised is answered too)."""
        scope["path_template"] = bare.template
        scope["app"] = scope["litestar_app"] = self
        started = False

        async def send_noting_start(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            return await bare.handler(scope, receive, send_noting_start) is not False
        except Exception as exc:
            if started:
                raise
            # What Litestar's exception middleware does for a routed request: the handler
            # for the exception's class (the nearest in its MRO) renders it.
            handlers = bare.exception_handlers
            handler = next(handlers[cls] for cls in type(exc).__mro__ if cls in handlers)
            request: Request[Any, Any, Any] = Request(scope, receive)
            response = handler(request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return True


def bare_routes(app: Litestar) -> dict[tuple[str, str], BareRoute]:
    """The registered routes whose handlers name `BARE_METHODS`, by method and full path;
    the handler is the route's ASGI function, or the `BARE_HANDLER` of an HTTP route."""
    routes: dict[tuple[str, str], BareRoute] = {}
    for route in app.routes:
        handlers: list[BaseRouteHandler] = []
        if isinstance(route, HTTPRoute):
            handlers = list(route.route_handlers)
        elif isinstance(route, ASGIRoute):
            handlers = [route.route_handler]
        for handler in handlers:
            methods = handler.opt.get(BARE_METHODS)
            if not methods:
                continue
            bare = BareRoute(
                template=route.path,
                handler=handler.opt.get(BARE_HANDLER) or handler.fn,
                exception_handlers=handler.resolve_exception_handlers(),
            )
            for method in methods:
                routes[method, route.path] = bare
    return routes


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
    app.bare_routes = bare_routes(app)
    app.body_read_timeout = settings.body_read_timeout_seconds
    app.access_log = settings.access_log
    return app


def create_app_from_env() -> IssuerApp:
    """The factory `issuer serve` hands to the ASGI server (each worker builds its own)."""
    return create_app(Settings.from_env())
