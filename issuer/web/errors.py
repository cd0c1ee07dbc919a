"""The one place errors become responses: RFC 6749 §5.2 JSON, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from issuer.errors import NoCredentials, OAuthError
from issuer.store.database import database_unavailable, unavailable_reason
from issuer.web.responses import (
    NO_STORE,
    SECURITY_HEADERS,
    Headers,
    encode_headers,
    security_headers,
)

__all__ = [
    "EXCEPTION_HANDLERS",
    "oauth_error_bytes",
    "oauth_error_headers",
    "oauth_error_response",
]

log = logging.getLogger("issuer.errors")

_HTTP_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "invalid_request",
    413: "request_too_large",
    415: "invalid_request",
    429: "slow_down",
    431: "request_too_large",
    503: "temporarily_unavailable",
}


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _secure(request: Request[Any, Any, Any], headers: dict[str, str]) -> dict[str, str]:
    """`headers` and the security headers every response carries (HSTS on https; none
    without an issuer runtime, as in an app that only borrows these handlers)."""
    runtime = request.app.state.get("runtime")
    return {**headers, **security_headers(runtime.settings.url if runtime else "")}


def oauth_error_headers(exc: OAuthError) -> dict[str, str]:
    headers = {**NO_STORE, **SECURITY_HEADERS, **exc.headers}
    if isinstance(exc, NoCredentials):
        # RFC 6750 §3.1: a request without any authentication gets no error code.
        headers["WWW-Authenticate"] = 'Bearer realm="issuer"'
    elif exc.bearer_challenge:
        # RFC 6750 §3: the challenge names the error so that clients know to re-authenticate.
        challenge = f'Bearer realm="issuer", error="{exc.error}"'
        if exc.description:
            challenge += f', error_description="{_quoted(exc.description)}"'
        headers["WWW-Authenticate"] = challenge
    return headers


def oauth_error_response(
    request: Request[Any, Any, Any], exc: OAuthError
) -> Response[dict[str, str]]:
    if exc.debug:
        log.info("%s %s: %s (%s)", request.method, request.url.path, exc.error, exc.debug)
    return Response(
        exc.body(),
        status_code=exc.status,
        headers=_secure(request, oauth_error_headers(exc)),
        media_type=MediaType.JSON,
    )


def oauth_error_bytes(exc: OAuthError, issuer_url: str) -> tuple[int, Headers, bytes]:
    """`oauth_error_response` as bare-ASGI status, headers and body, for paths that answer
    before the exception handlers (the JWKS fast path)."""
    body = msgspec.json.encode(exc.body())
    headers = [
        (b"content-type", b"application/json"),
        *encode_headers({**oauth_error_headers(exc), **security_headers(issuer_url)}),
        (b"content-length", str(len(body)).encode()),
    ]
    return exc.status, headers, body


def http_error_response(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, str]]:
    status = exc.status_code
    error = _HTTP_CODES.get(status, "invalid_request" if status < 500 else "server_error")
    description = exc.detail if status < 500 else "the server could not complete the request"
    if isinstance(exc, ValidationException):
        description = "the request is malformed"
    headers = _secure(request, {**NO_STORE, **(exc.headers or {})})
    return Response(
        {"error": error, "error_description": str(description)},
        status_code=status,
        headers=headers,
        media_type=MediaType.JSON,
    )


def database_unavailable_response(
    request: Request[Any, Any, Any], exc: BaseException
) -> Response[dict[str, str]]:
    """The database went away mid-request (restart, failover, network): try again shortly.

    Pools reconnect on their next checkout, so a retry after a moment normally succeeds.
    The log names the driver's error, not SQLAlchemy's text (it carries the parameters).
    """
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        unavailable_reason(exc),
    )
    return Response(
        {
            "error": "temporarily_unavailable",
            "error_description": "the database is unavailable; try again shortly",
        },
        status_code=503,
        headers=_secure(request, {**NO_STORE, "Retry-After": "1"}),
        media_type=MediaType.JSON,
    )


def unexpected_error_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, str]]:
    """Every other exception: a database that cannot be reached right now is a 503, however
    the driver or SQLAlchemy wrapped it; anything else is a bug (500)."""
    if database_unavailable(exc):
        return database_unavailable_response(request, exc)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return Response(
        {"error": "server_error", "error_description": "the server could not complete the request"},
        status_code=500,
        headers=_secure(request, NO_STORE),
        media_type=MediaType.JSON,
    )


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    OAuthError: oauth_error_response,
    HTTPException: http_error_response,
    Exception: unexpected_error_response,
}
