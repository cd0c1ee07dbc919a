"""GET /.well-known/jwks.json: the key ring's precomputed JWK Set (RFC 7517 §5).

The hottest path, so no framework on it: the body, the strong ETag and every header are
built once per ring version, and a request only compares `If-None-Match` and sends bytes.
A GET goes from `IssuerApp.__call__` straight to `serve_jwks`, skipping routing and the
middleware stack (about a third of the time of a request through them).
"""

from __future__ import annotations

import re
import weakref

from litestar import asgi
from litestar.types import Receive, Scope, Send

from issuer.errors import KeysNotLoaded
from issuer.keyring.ring import KeyRing
from issuer.web.deps import runtime_of
from issuer.web.errors import oauth_error_bytes
from issuer.web.responses import Headers, header, send_response

__all__ = ["JWKS_PATH", "ROUTES", "etag_matches", "jwks", "serve_jwks"]

JWKS_PATH = "/.well-known/jwks.json"
MEDIA_TYPE = b"application/jwk-set+json"  # RFC 7517 §8.5.1

_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')
# Before routing there are no exception handlers: KeysNotLoaded, rendered as they would.
_NOT_LOADED = oauth_error_bytes(KeysNotLoaded())
_responses: weakref.WeakKeyDictionary[KeyRing, tuple[Headers, Headers]] = (
    weakref.WeakKeyDictionary()
)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: `*`, or any listed entity-tag equal under weak comparison."""
    if if_none_match.strip() == "*":
        return True
    return any(m.group(1) == etag for m in _ENTITY_TAG.finditer(if_none_match))


def _headers(ring: KeyRing, max_age: int) -> tuple[Headers, Headers]:
    cached = _responses.get(ring)
    if cached is None:
        # RFC 9110 §15.4.5: a 304 carries the ETag and Cache-Control a 200 would have.
        validators = [
            (b"etag", ring.jwks_etag.encode()),
            (b"cache-control", f"public, max-age={max_age}".encode()),
        ]
        ok = [
            (b"content-type", MEDIA_TYPE),
            (b"content-length", str(len(ring.jwks_body)).encode()),
            *validators,
        ]
        cached = _responses[ring] = (ok, validators)
    return cached


async def serve_jwks(scope: Scope, send: Send) -> int:
    """The published keys: next, active and not yet expired retired keys; public members only.

    Returns the status sent. `IssuerApp` calls this before the framework's routing for a GET
    of the JWKS; the route below serves it otherwise (and documents it).
    """
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        await send_response(send, 405, [(b"allow", b"GET, HEAD"), (b"content-length", b"0")])
        return 405
    runtime = runtime_of(scope)
    holder = runtime.keys
    if not holder.loaded:
        status, headers, body = _NOT_LOADED
        await send_response(send, status, headers, body)
        return status
    ring: KeyRing = holder.ring
    ok, validators = _headers(ring, runtime.settings.jwks_max_age)
    condition = header(scope, b"if-none-match")
    if condition is not None and etag_matches(condition, ring.jwks_etag):
        await send_response(send, 304, validators)
        return 304
    await send_response(send, 200, ok, b"" if method == "HEAD" else ring.jwks_body)
    return 200


@asgi(JWKS_PATH, copy_scope=False)
async def jwks(scope: Scope, receive: Receive, send: Send) -> None:
    """The published keys: next, active and not yet expired retired keys; public members only."""
    await serve_jwks(scope, send)


ROUTES = [jwks]
