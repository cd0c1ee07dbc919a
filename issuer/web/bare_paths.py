"""The OpenAPI description of the routes Litestar cannot describe, written by hand.

The protocol endpoints (token, revocation, introspection, userinfo) and the JWKS are bare
ASGI handlers (`issuer.web.protocol`, `issuer.web.jwks`), and discovery, health and metrics
are kept out of the generated schema; without this module /schema/openapi.json would list
the admin API only. `OpenAPIDocument` adds these path items to the document it serves, so
that every endpoint is listed, at the paths it really has (the protocol ones under
ISSUER_URL's path).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from issuer.jose.algs import SIGNING_ALGS
from issuer.oauth.grants import GRANT_TYPES
from issuer.web.discovery import (
    INTROSPECTION_PATH,
    OAUTH_METADATA_PATH,
    OIDC_METADATA_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from issuer.web.jwks import JWKS_PATH

__all__ = ["OpenAPIDocument", "bare_paths"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_ERROR = {
    "type": "object",
    "description": "RFC 6749 §5.2 error",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
# Basic, or client_id (+ client_secret) in the form.
_CLIENT_AUTH: list[dict[str, list[str]]] = [{"ClientSecretBasic": []}, {}]
_SECURITY_SCHEMES = {
    "ClientSecretBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "RFC 6749 §2.3.1 client_secret_basic (client_secret_post: the same "
        "in the form; a public client sends client_id only)",
    },
    "MetricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "ISSUER_METRICS_TOKEN, when it is set",
    },
}


def _answer(description: str, media_type: str | None = None, schema: Any = None) -> Any:
    answer: dict[str, Any] = {"description": description}
    if media_type is not None:
        answer["content"] = {media_type: {"schema": schema or {"type": "object"}}}
    return answer


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "malformed request or grant (invalid_request, invalid_grant, invalid_scope, …)",
        401: "client authentication failed (invalid_client) or no valid bearer token",
        403: "the token lacks the scope (insufficient_scope)",
        405: "method not allowed",
        413: "body larger than ISSUER_MAX_BODY_BYTES",
        503: "database or signing keys unavailable; retry after Retry-After",
    }
    return {str(status): _answer(texts[status], JSON, _ERROR) for status in statuses}


def _form(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {FORM: {"schema": schema}}}


_TOKEN_FORM = _form(
    ["grant_type"],
    {
        "grant_type": {
            "type": "string",
            "enum": sorted(GRANT_TYPES),
        },
        "code": {"type": "string", "description": "authorization_code grant"},
        "redirect_uri": {"type": "string", "description": "authorization_code grant"},
        "code_verifier": {"type": "string", "description": "authorization_code grant (PKCE)"},
        "scope": {"type": "string", "description": "space-separated"},
        "resource": {"type": "string", "description": "RFC 8707 audience"},
        "audience": {"type": "string"},
        "username": {"type": "string", "description": "password grant"},
        "password": {"type": "string", "format": "password", "description": "password grant"},
        "refresh_token": {"type": "string", "description": "refresh_token grant"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "format": "password"},
    },
)
_TOKEN_RESPONSE = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string", "description": "RFC 9068 JWT (typ at+jwt)"},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string"},
        "id_token": {"type": "string", "description": "authorization_code with scope openid"},
        "scope": {"type": "string"},
    },
}
_TOKEN_HINT = _form(
    ["token"],
    {
        "token": {"type": "string"},
        "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "format": "password"},
    },
)
_JWKS = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kid": {"type": "string"},
                    "kty": {"type": "string", "enum": ["RSA", "OKP"]},
                    "alg": {"type": "string", "enum": [*SIGNING_ALGS, "Ed25519"]},
                    "use": {"type": "string", "enum": ["sig"]},
                },
            },
        }
    },
}


def _metadata(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "tags": ["discovery"],
            "responses": {"200": _answer("the issuer's metadata", JSON)},
        }
    }


def bare_paths(prefix: str) -> dict[str, Any]:
    """Path items for an issuer whose URL path is `prefix` ("" at the root)."""
    paths: dict[str, Any] = {
        prefix + JWKS_PATH: {
            "get": {
                "summary": "The published signing keys (RFC 7517 JWK Set), public members only",
                "tags": ["discovery"],
                "parameters": [
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _answer(
                        "next, active and retired-but-unexpired keys",
                        "application/jwk-set+json",
                        _JWKS,
                    ),
                    "304": {"description": "the ETag matches"},
                    **_errors(503),
                },
            }
        },
        prefix + OIDC_METADATA_PATH: _metadata("OpenID Connect Discovery 1.0 metadata"),
        prefix + OAUTH_METADATA_PATH: _metadata("RFC 8414 authorization server metadata"),
        prefix + TOKEN_PATH: {
            "post": {
                "summary": "Token endpoint (RFC 6749 §3.2)",
                "tags": ["oauth"],
                "security": _CLIENT_AUTH,
                "requestBody": _TOKEN_FORM,
                "responses": {
                    "200": _answer(
                        "an access token (and a refresh token for password and refresh_token)",
                        JSON,
                        _TOKEN_RESPONSE,
                    ),
                    **_errors(400, 401, 405, 413, 503),
                },
            }
        },
        prefix + REVOCATION_PATH: {
            "post": {
                "summary": "Token revocation (RFC 7009)",
                "tags": ["oauth"],
                "security": _CLIENT_AUTH,
                "requestBody": _TOKEN_HINT,
                "responses": {
                    "200": {"description": "revoked, or unknown (RFC 7009 §2.2)"},
                    **_errors(400, 401, 405, 413, 503),
                },
            }
        },
        prefix + INTROSPECTION_PATH: {
            "post": {
                "summary": "Token introspection (RFC 7662) for the clients a token concerns",
                "tags": ["oauth"],
                "security": _CLIENT_AUTH,
                "requestBody": _TOKEN_HINT,
                "responses": {
                    "200": _answer(
                        "{active: false} or the token's claims",
                        JSON,
                        {
                            "type": "object",
                            "required": ["active"],
                            "properties": {"active": {"type": "boolean"}},
                        },
                    ),
                    **_errors(400, 401, 405, 413, 503),
                },
            }
        },
        prefix + USERINFO_PATH: {
            method: {
                "summary": "The signed-in user's claims (OIDC Core §5.3)",
                "tags": ["oauth"],
                "security": [{"BearerToken": []}],
                "responses": {
                    "200": _answer("sub and the user's claims", JSON),
                    **_errors(401, 403, 405, 503),
                },
            }
            for method in ("get", "post")
        },
        "/healthz": {
            "get": {
                "summary": "Liveness: the process answers",
                "tags": ["operations"],
                "responses": {"200": _answer("alive", JSON)},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the database answers and the signing keys are loaded",
                "tags": ["operations"],
                "responses": {
                    "200": _answer("ready", JSON),
                    "503": _answer("not ready, with the reasons", JSON),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of this process",
                "tags": ["operations"],
                "security": [{"MetricsToken": []}, {}],
                "responses": {
                    "200": _answer(
                        "text exposition format 0.0.4", "text/plain", {"type": "string"}
                    ),
                    "401": _answer("ISSUER_METRICS_TOKEN is set and was not sent", JSON, _ERROR),
                },
            }
        },
    }
    if prefix:  # RFC 8414 §3: the metadata of a path issuer is also at the root, suffixed
        paths[OAUTH_METADATA_PATH + prefix] = _metadata("RFC 8414 metadata (path issuer)")
    return paths


class OpenAPIDocument(JsonRenderPlugin):
    """Litestar's JSON document with the hand-written path items added (rendered once)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._bare = bare_paths(prefix)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        components = dict(openapi_schema.get("components") or {})
        components["securitySchemes"] = {
            **_SECURITY_SCHEMES,
            **(components.get("securitySchemes") or {}),
        }
        document = {
            **openapi_schema,
            "paths": {**self._bare, **(openapi_schema.get("paths") or {})},
            "components": components,
        }
        return super().render(request, document)
