"""Issue 11.12: the OpenAPI document is served without third-party scripts or styles."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]

# A <script src>, <link href> or @import that leaves this host (absolute or protocol-relative).
THIRD_PARTY_ASSET = re.compile(
    r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+(?:url\()?["']?(?:https?:)?//""",
    re.IGNORECASE,
)


async def test_the_schema_is_the_json_document(client: Client) -> None:
    for path in ("/schema", "/schema/openapi.json"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        assert response.json()["info"]["title"] == "issuer"


@pytest.mark.parametrize(
    "path",
    [
        "/schema",
        "/schema/openapi.json",
        "/schema/swagger",
        "/schema/redoc",
        "/schema/elements",
        "/schema/rapidoc",
        "/schema/scalar",
    ],
)
async def test_no_schema_page_loads_assets_from_another_host(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status_code in (200, 404), path
    assert not THIRD_PARTY_ASSET.search(response.text), response.text[:500]
    assert "cdn." not in response.text and "unpkg.com" not in response.text
