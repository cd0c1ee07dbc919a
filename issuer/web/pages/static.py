"""GET /oauth/static/issuer.css: the pages' one stylesheet, read once, cached by browsers.

Its URL on the pages carries a digest of its content (`?v=`), so a new version is fetched
at once after an upgrade however long the old one is cached.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from litestar import Response, get

__all__ = ["STYLESHEET", "stylesheet", "stylesheet_version"]

STYLESHEET = "/oauth/static/issuer.css"
_FILE = Path(__file__).resolve().parents[2] / "static" / "issuer.css"


@cache
def _stylesheet_bytes() -> bytes:
    return _FILE.read_bytes()


@cache
def stylesheet_version() -> str:
    return hashlib.sha256(_stylesheet_bytes()).hexdigest()[:12]


@get(STYLESHEET, include_in_schema=False, sync_to_thread=False)
def stylesheet() -> Response[bytes]:
    return Response(
        _stylesheet_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=86400"},
    )
