from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.app import create_app
from tests.conftest import make_settings


async def test_healthz_and_readyz(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/none", tmp_path)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["reasons"]


async def test_unknown_path_and_method_get_json_errors(client: AsyncTestClient[Litestar]) -> None:
    missing = await client.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong = await client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
