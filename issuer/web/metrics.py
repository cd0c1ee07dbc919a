"""`GET /metrics` (Prometheus text format) and the request-latency histogram it shows.

Latency is labelled with the route template (`/admin/users/{user_id}/disable`, never the
raw path, so that the label set stays bounded; "unmatched" for a path no route has) and the
status class (`2xx` … `5xx`). `issuer.web.requests` observes every request.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from prometheus_client import generate_latest

from issuer.errors import InvalidToken, NoCredentials
from issuer.metrics import REGISTRY, REQUEST_LATENCY

__all__ = ["ROUTES", "metrics", "observe_request"]

# The text exposition format every Prometheus scrapes (Litestar appends the charset).
TEXT_FORMAT = "text/plain; version=0.0.4"

_STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}
# (route, status class) → histogram child; `labels()` takes a lock, a dict lookup does not.
_children: dict[tuple[str, str], Any] = {}


def observe_request(route: str, status: int, seconds: float) -> None:
    """One request's latency, by route template and status class."""
    key = (route, _STATUS_CLASSES.get(status // 100, "other"))
    child = _children.get(key)
    if child is None:
        child = _children[key] = REQUEST_LATENCY.labels(*key)
    child.observe(seconds)


def _scraper_allowed(request: Request[Any, Any, Any]) -> bool:
    """No ISSUER_METRICS_TOKEN: anyone; else `Authorization: Bearer <it>`, compared in
    constant time."""
    token: str | None = request.app.state.runtime.settings.metrics_token
    if token is None:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


@get("/metrics", include_in_schema=False, sync_to_thread=False, cache_control=None)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """This process's counters and histograms (each worker has its own; scrape each)."""
    if not _scraper_allowed(request):
        # RFC 6750 §3.1: no error code for a request that sent no credentials.
        refused = NoCredentials if not request.headers.get("authorization") else InvalidToken
        raise refused("/metrics needs the bearer token of ISSUER_METRICS_TOKEN")
    return Response(
        generate_latest(REGISTRY),
        media_type=TEXT_FORMAT,
        headers={"Cache-Control": "no-store"},
    )


ROUTES = [metrics]
