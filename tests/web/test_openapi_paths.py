"""/schema/openapi.json lists every endpoint: the bare ASGI routes too, at their real paths."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.oauth.support import serving

Client = AsyncTestClient[Litestar]

BARE = {
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/openid-configuration"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("post", "/oauth/token"),
    ("post", "/oauth/revoke"),
    ("post", "/oauth/introspect"),
    ("get", "/userinfo"),
    ("post", "/userinfo"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


def operations(document: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(method, path) for path, item in document["paths"].items() for method in item}


async def test_every_bare_endpoint_is_in_the_document_and_answers_there(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert BARE <= operations(document)
    assert any(path.startswith("/admin/") for path in document["paths"])  # still generated
    for method, path in sorted(BARE):
        answered = await client.request(method.upper(), path)
        assert answered.status_code not in (404, 405), (method, path)
        documented = document["paths"][path][method]["responses"]
        assert str(answered.status_code) in documented, (method, path, answered.status_code)
    schemes = document["components"]["securitySchemes"]
    assert {"BearerToken", "ClientSecretBasic", "MetricsToken"} <= set(schemes)
    # Every security requirement names a declared scheme.
    for item in document["paths"].values():
        for operation in item.values():
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes)


async def test_the_protocol_paths_follow_the_issuer_path(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_URL="https://id.example.com/t")
    async with serving(settings) as (client, _):
        document = (await client.get("/schema/openapi.json")).json()
        assert ("post", "/t/oauth/token") in operations(document)
        assert ("get", "/t/.well-known/jwks.json") in operations(document)
        assert ("get", "/.well-known/oauth-authorization-server/t") in operations(document)
        assert ("get", "/healthz") in operations(document)  # operational routes stay at the root
        assert ("post", "/oauth/token") not in operations(document)
        token = await client.post("/t/oauth/token", data={"grant_type": "client_credentials"})
        assert token.status_code == 401
