"""`protocol_endpoint`: what every protocol endpoint gets from the adapter, shown on a toy one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import AsyncTestClient
from sqlalchemy.exc import IntegrityError

from issuer.errors import InvalidToken
from issuer.runtime import Runtime
from issuer.web.errors import EXCEPTION_HANDLERS
from issuer.web.protocol import ProtocolRequest, protocol_endpoint
from tests.conftest import make_settings
from tests.oauth.support import FORM

Client = AsyncTestClient[Litestar]
FAILURES: dict[str, Exception] = {
    "bearer": InvalidToken("the access token has expired"),
    "lost": asyncpg.ConnectionDoesNotExistError("connection was closed"),
    "bug": IntegrityError("INSERT …", {}, Exception("duplicate key")),
}


@protocol_endpoint("/echo", "POST")
async def echo(request: ProtocolRequest) -> dict[str, Any]:
    form = await request.form()
    return {"said": form.require("say"), "authorization": request.authorization}


@protocol_endpoint("/nothing", "GET", "POST")
async def nothing(request: ProtocolRequest) -> None:
    return None


@protocol_endpoint("/fail", "GET")
async def fail(request: ProtocolRequest) -> None:
    raise FAILURES[request.authorization or ""]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """A bare app with the issuer's error handlers; the database is never opened."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/never.db", tmp_path / "keys")
    runtime = Runtime(settings)
    app = Litestar(
        [echo, nothing, fail],
        state=State({"runtime": runtime}),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    try:
        async with AsyncTestClient(app=app) as test_client:
            yield test_client
    finally:
        await runtime.close()


async def test_a_body_is_no_store_json_and_none_is_an_empty_200(client: Client) -> None:
    said = await client.post("/echo", content=b"say=hi", headers={**FORM, "Authorization": "x"})
    assert said.status_code == 200 and said.json() == {"said": "hi", "authorization": "x"}
    assert said.headers["cache-control"] == "no-store"
    assert said.headers["content-type"] == "application/json"
    empty = await client.get("/nothing")
    assert empty.status_code == 200 and empty.content == b""
    assert empty.headers["cache-control"] == "no-store"


async def test_other_methods_are_a_json_405_with_allow(client: Client) -> None:
    for path, allow in [("/echo", "POST"), ("/nothing", "GET, POST")]:
        response = await client.put(path)
        assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
        assert response.headers["allow"] == allow


async def test_a_body_over_the_limit_is_413_declared_or_not(client: Client) -> None:
    big = b"say=" + b"a" * 20_000

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    declared = await client.post("/echo", content=big, headers=FORM)
    # Chunked, without a Content-Length: counted as it arrives (httpx's transport streams).
    transport = httpx.ASGITransport(app=client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        streamed = await http.post("/echo", content=chunks(), headers=FORM)
    assert "content-length" not in streamed.request.headers
    for response in (declared, streamed):
        assert response.status_code == 413 and response.json()["error"] == "request_too_large"


async def test_errors_go_through_the_apps_exception_handlers(client: Client) -> None:
    bearer = await client.get("/fail", headers={"Authorization": "bearer"})
    assert bearer.status_code == 401 and bearer.json()["error"] == "invalid_token"
    assert bearer.headers["www-authenticate"].startswith('Bearer realm="issuer"')
    lost = await client.get("/fail", headers={"Authorization": "lost"})
    assert lost.status_code == 503 and lost.headers["retry-after"] == "1"
    bug = await client.get("/fail", headers={"Authorization": "bug"})
    assert bug.status_code == 500 and bug.json()["error"] == "server_error"
    for response in (bearer, lost, bug):
        assert response.headers["cache-control"] == "no-store"
