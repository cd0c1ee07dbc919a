"""Every admin route is in /schema/openapi.json with typed bodies, errors and bearer auth."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.oauth.grants import GRANT_TYPES
from issuer.oauth.server import AuthorizationServer
from issuer.runtime import Runtime

Client = AsyncTestClient[Litestar]

ADMIN_ROUTES = {
    ("get", "/admin/keys"): (None, "KeyOut[]"),
    ("post", "/admin/keys/rotate"): ("RotateIn", "RotationOut[]"),
    ("post", "/admin/keys/{kid}/revoke"): (None, "RevocationOut"),
    ("post", "/admin/users"): ("NewUser", "UserOut"),
    ("get", "/admin/users"): (None, "UserOut[]"),
    ("post", "/admin/users/{user_id}/disable"): (None, "UserDisabled"),
    ("post", "/admin/users/{user_id}/enable"): (None, "UserOut"),
    ("post", "/admin/users/{user_id}/revoke-sessions"): (None, "SessionsRevoked"),
    ("post", "/admin/users/{user_id}/revoke-consents"): ("RevokeConsentsIn", "ConsentsRevoked"),
    ("post", "/admin/clients"): ("NewClientIn", "ClientCreated"),
    ("get", "/admin/clients"): (None, "ClientOut[]"),
    ("get", "/admin/clients/{client_id}"): (None, "ClientOut"),
    ("patch", "/admin/clients/{client_id}"): ("ClientChange", "ClientOut"),
    ("post", "/admin/clients/{client_id}/disable"): (None, "ClientDisabled"),
    ("post", "/admin/clients/{client_id}/enable"): (None, "ClientOut"),
    ("post", "/admin/clients/{client_id}/rotate-secret"): ("RotateSecretIn", "SecretRotated"),
    ("delete", "/admin/clients/{client_id}"): (None, "ClientDeleted"),
    ("get", "/admin/audit"): (None, "AuditOut[]"),
}


def ref_name(schema: dict[str, Any]) -> str:
    """`#/components/schemas/X` → X; arrays → X[]; an optional body → its non-null part."""
    if "oneOf" in schema:
        [schema] = [s for s in schema["oneOf"] if s.get("type") != "null"]
    if schema.get("type") == "array":
        return ref_name(schema["items"]) + "[]"
    ref: str = schema["$ref"]
    return ref.rsplit("/", 1)[1]


async def test_every_admin_route_is_typed_in_the_openapi_schema(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths, components = document["paths"], document["components"]
    assert components["securitySchemes"]["BearerToken"]["scheme"] == "bearer"

    admin_ops = {
        (method, path) for path, ops in paths.items() if path.startswith("/admin") for method in ops
    }
    assert admin_ops == set(ADMIN_ROUTES)

    for (method, path), (body, result) in ADMIN_ROUTES.items():
        operation = paths[path][method]
        assert operation["security"] == [{"BearerToken": []}], path
        success = next(code for code in operation["responses"] if code.startswith("2"))
        content = operation["responses"][success]["content"]["application/json"]
        assert ref_name(content["schema"]) == result, path
        if body is None:
            assert "requestBody" not in operation, path
        else:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert ref_name(schema) == body, path
        for code in ("400", "401", "403"):
            error = operation["responses"][code]["content"]["application/json"]["schema"]
            assert ref_name(error) == "ErrorBody", (path, code)
        for name in ref_name(content["schema"]).removesuffix("[]"), body:
            if name:
                assert components["schemas"][name]["properties"], name


async def test_schemas_name_their_fields_and_never_secrets_at_rest(client: Client) -> None:
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    assert set(schemas["NewUser"]["required"]) == {"email", "password"}
    assert "password" not in schemas["UserOut"]["properties"]
    assert {"client_secret", "client"} <= schemas["ClientCreated"]["properties"].keys()
    assert "client_secret" not in schemas["ClientOut"]["properties"]
    for schema in schemas.values():
        assert (
            not {"secret_digest", "private_blob", "password_hash"}
            & schema.get("properties", {}).keys()
        )
    grant_types = schemas["NewClientIn"]["properties"]["grant_types"]["items"]
    assert set(grant_types["enum"]) == {
        "authorization_code",
        "password",
        "refresh_token",
        "client_credentials",
    }


async def test_grant_types_have_one_source_the_grant_registry(
    client: Client, runtime: Runtime
) -> None:
    server = AuthorizationServer(
        settings=runtime.settings, database=runtime.database, keys=runtime.keys, clock=runtime.clock
    )
    assert sorted(GRANT_TYPES) == server.grant_types
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    enum = schemas["NewClientIn"]["properties"]["grant_types"]["items"]["enum"]
    discovery = (await client.get("/.well-known/openid-configuration")).json()
    assert sorted(enum) == sorted(discovery["grant_types_supported"]) == server.grant_types


async def test_bodies_refusing_unknown_fields_are_declared_closed(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for name in ("NewUser", "NewClientIn", "ClientChange", "RotateIn", "RotateSecretIn"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["ClientOut"]  # answers may grow
    # A body taken as `X | None = None` may be left out.
    for path in (
        "/admin/keys/rotate",
        "/admin/clients/{client_id}/rotate-secret",
        "/admin/users/{user_id}/revoke-consents",
    ):
        assert document["paths"][path]["post"]["requestBody"]["required"] is False, path


async def test_options_allows_every_method_of_the_path(
    client: Client, admin_headers: dict[str, str]
) -> None:
    for path, methods in (
        ("/admin/users", "GET, OPTIONS, POST"),
        ("/admin/clients", "GET, OPTIONS, POST"),
        ("/admin/clients/svc", "DELETE, GET, OPTIONS, PATCH"),
        ("/admin/keys", "GET, OPTIONS"),
    ):
        response = await client.options(path, headers=admin_headers)
        assert response.status_code == 204 and response.headers["allow"] == methods, path
