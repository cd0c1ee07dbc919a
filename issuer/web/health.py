"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import Response, get

from issuer.web.deps import RuntimeDep

__all__ = ["ROUTES", "healthz", "readyz"]


@get("/healthz", sync_to_thread=False, include_in_schema=False, cache_control=None)
def healthz() -> dict[str, str]:
    """The process is up and its event loop answers."""
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(runtime: RuntimeDep) -> Response[dict[str, object]]:
    """The database answers and every readiness check (e.g. keys loaded) passes."""
    reasons = await runtime.not_ready_reasons()
    if reasons:
        return Response({"status": "unavailable", "reasons": reasons}, status_code=503)
    return Response({"status": "ready"}, status_code=200)


ROUTES = [healthz, readyz]
