"""Errors on the hosted pages become HTML error pages: a browser is reading, not a client.

The page routes' router carries these handlers; `or_page` puts a 405 (raised while routing,
before any router's handlers apply) on a page's path on the same footing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from issuer.errors import OAuthError
from issuer.oauth.authorization import AuthorizationPageError, AuthorizationRedirectError
from issuer.store.database import database_unavailable, unavailable_reason
from issuer.web.deps import runtime_of
from issuer.web.errors import EXCEPTION_HANDLERS
from issuer.web.pages.page import PAGE_PATHS, Page, PageError

__all__ = ["PAGE_EXCEPTION_HANDLERS", "or_page", "page_error_response"]

log = logging.getLogger("issuer.errors")

Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


# What a person is told for the routing and body errors Litestar raises with bare phrases.
_MESSAGES = {
    404: "There is no such page.",
    405: "This page cannot answer that kind of request.",
    408: "The form took too long to arrive. Try again.",
    413: "The form sent is too large.",
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _as_page_error(exc: Exception) -> tuple[PageError, dict[str, str]]:
    if isinstance(exc, PageError):
        return exc, {}
    if isinstance(exc, AuthorizationPageError):
        # RFC 6749 §4.1.2.1: the client or its redirect_uri is not to be trusted, so the
        # user is told here, and never sent there.
        return PageError(400, "The application's request is not valid", exc.description), {}
    if isinstance(exc, OAuthError):
        return PageError(exc.status, "The request is not valid", exc.description), exc.headers
    if isinstance(exc, HTTPException):
        status = exc.status_code
        title = _phrase(status)
        message = "The request is malformed." if isinstance(exc, ValidationException) else ""
        if status < 500 and not message and exc.detail and exc.detail != title:
            message = str(exc.detail)
        message = message or _MESSAGES.get(status, "This page cannot answer that request.")
        return PageError(status, title, message), exc.headers or {}
    if database_unavailable(exc):
        log.warning("database unavailable on a login page: %s", unavailable_reason(exc))
        return (
            PageError(503, "Temporarily unavailable", "Please try again in a moment."),
            {"Retry-After": "1"},
        )
    log.exception("unexpected error on a login page")
    return PageError(500, "Something went wrong", "The server could not complete the request."), {}


def page_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    page = Page(request, runtime_of(request.scope))
    if isinstance(exc, AuthorizationRedirectError):
        # Every other authorization error goes back to the client's verified redirect_uri.
        return page.redirect(exc.location(page.settings.url))
    error, headers = _as_page_error(exc)
    if error.debug:
        log.info("%s %s: %s (%s)", request.method, request.url.path, error.title, error.debug)
    return page.error(error, headers=headers)


# Litestar picks the most specific exception type across all layers, so the pages name every
# type the app's map names (an OAuthError would otherwise become the app's JSON).
PAGE_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    kind: page_error_response for kind in (*EXCEPTION_HANDLERS, Exception)
}


def or_page(fallback: Handler) -> Handler:
    """The app's handler for routing errors: an error page on a page's path (a 405 for a
    browser that PUTs to the login form), `fallback`'s answer everywhere else."""

    def handle(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
        runtime = request.app.state.get("runtime")
        if runtime is not None:
            prefix = urlsplit(runtime.settings.url).path.rstrip("/")
            path = request.scope["path"]
            if path.startswith(prefix) and path[len(prefix) :] in PAGE_PATHS:
                return page_error_response(request, exc)
        return fallback(request, exc)

    return handle
