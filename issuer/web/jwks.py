"""GET /.well-known/jwks.json: the key ring's precomputed JWK Set (RFC 7517 §5).

The hottest path, so no framework on it: the body, the strong ETag and every header are
built once per ring version, and a request only compares `If-None-Match` and sends bytes.
A GET goes from `IssuerApp.__call__` straight to `jwks`, skipping routing and the
middleware stack (about a third of the time of a request through them).
"""

from __future__ import annotations

import re
import weakref
from functools import cache

from litestar import asgi
from litestar.types import Receive, Scope, Send

from issuer.errors import KeysNotLoaded
from issuer.keyring.ring import KeyRing
from issuer.web.deps import runtime_of
from issuer.web.errors import oauth_error_bytes
from issuer.web.protocol import BARE_METHODS
from issuer.web.responses import (
    Headers,
    encode_headers,
    header,
    security_headers,
    send_response,
)

__all__ = ["JWKS_PATH", "ROUTES", "etag_matches", "jwks", "serve_jwks"]

JWKS_PATH = "/.well-known/jwks.json"
MEDIA_TYPE = b"application/jwk-set+json"  # RFC 7517 §8.5.1

_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')
_responses: weakref.WeakKeyDictionary[KeyRing, tuple[Headers, Headers]] = (
    weakref.WeakKeyDictionary()
)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: `*`, or any listed entity-tag equal under weak comparison."""
    if if_none_match.strip() == "*":
        return True
    return any(m.group(1) == etag for m in _ENTITY_TAG.finditer(if_none_match))


_NOT_ALLOWED = b'{"error":"method_not_allowed","error_description":"Method Not Allowed"}'


@cache
def _refusals(issuer_url: str) -> tuple[Headers, tuple[int, Headers, bytes]]:
    """The 405 (the JSON error every other endpoint answers it with) and KeysNotLoaded,
    rendered as the exception handlers would (there are none before routing), built once
    per issuer URL."""
    not_allowed = [
        (b"allow", b"GET, HEAD"),
        (b"content-type", b"application/json"),
        *encode_headers(security_headers(issuer_url)),
        (b"content-length", str(len(_NOT_ALLOWED)).encode()),
    ]
    return not_allowed, oauth_error_bytes(KeysNotLoaded(), issuer_url)


def _headers(ring: KeyRing, max_age: int, issuer_url: str) -> tuple[Headers, Headers]:
    cached = _responses.get(ring)
    if cached is None:
        # RFC 9110 §15.4.5: a 304 carries the ETag and Cache-Control a 200 would have.
        validators = [
            (b"etag", ring.jwks_etag.encode()),
            (b"cache-control", f"public, max-age={max_age}".encode()),
            *encode_headers(security_headers(issuer_url)),
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

    Returns the status sent.
    """
    method = scope.get("method", "GET")
    runtime = runtime_of(scope)
    if method not in ("GET", "HEAD"):
        await send_response(send, 405, _refusals(runtime.settings.url)[0], _NOT_ALLOWED)
        return 405
    holder = runtime.keys
    if not holder.loaded:
        status, headers, body = _refusals(runtime.settings.url)[1]
        await send_response(send, status, headers, body)
        return status
    ring: KeyRing = holder.ring
    ok, validators = _headers(ring, runtime.settings.jwks_max_age, runtime.settings.url)
    condition = header(scope, b"if-none-match")
    if condition is not None and etag_matches(condition, ring.jwks_etag):
        await send_response(send, 304, validators)
        return 304
    await send_response(send, 200, ok, b"" if method == "HEAD" else ring.jwks_body)
    return 200


@asgi(JWKS_PATH, copy_scope=False, opt={BARE_METHODS: ("GET",)})
async def jwks(scope: Scope, receive: Receive, send: Send) -> None:
    """The published keys: next, active and not yet expired retired keys; public members only."""
    await serve_jwks(scope, send)


ROUTES = [jwks]
