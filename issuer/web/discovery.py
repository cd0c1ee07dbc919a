"""Authorization server metadata (RFC 8414) and OpenID Provider metadata (Discovery 1.0 §3).

Built from the settings and what is really served, precomputed per key-ring version (the
signing algs come from the ring). The issuer identifier may have a path (`ISSUER_URL =
https://id.example.com/tenant-a`): both documents are served under it, and RFC 8414 §3's
form with the well-known segment inserted before the path (`/.well-known/
oauth-authorization-server/tenant-a`) is served at the root too (`root_routes`).
"""

from __future__ import annotations

import json
import weakref
from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from issuer.keyring.ring import KeyRing
from issuer.oauth import pkce
from issuer.oauth.authorization import PROMPTS
from issuer.oauth.grants import GRANT_TYPES
from issuer.oauth.grants.base import IDENTITY_SCOPES
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.web.deps import RuntimeDep
from issuer.web.jwks import JWKS_PATH

__all__ = [
    "AUTHORIZATION_PATH",
    "END_SESSION_PATH",
    "OAUTH_METADATA_PATH",
    "OIDC_METADATA_PATH",
    "ROUTES",
    "metadata",
    "root_routes",
]

OIDC_METADATA_PATH = "/.well-known/openid-configuration"
OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"

# The endpoint paths below the issuer URL, where issuer.web's token, revocation,
# introspection and userinfo endpoints are mounted.
TOKEN_PATH = "/oauth/token"  # noqa: S105 (a path, not a secret)
REVOCATION_PATH = "/oauth/revoke"
INTROSPECTION_PATH = "/oauth/introspect"
USERINFO_PATH = "/userinfo"
# The hosted pages' endpoints (`issuer.web.pages`).
AUTHORIZATION_PATH = "/oauth/authorize"
END_SESSION_PATH = "/oauth/logout"
# What an ID token and the userinfo endpoint may say about the user (OpenID Connect Core §2,
# §5.1) and about the login.
CLAIMS_SUPPORTED = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "email",
    "email_verified",
)

CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]

_documents: weakref.WeakKeyDictionary[KeyRing, bytes] = weakref.WeakKeyDictionary()


def metadata(settings: Settings, ring: KeyRing) -> dict[str, Any]:
    """The metadata document for this issuer and key ring."""
    issuer = settings.url
    return {
        # RFC 8414 §3.3: identical to the issuer the client asked about, and to `iss`.
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "revocation_endpoint": issuer + REVOCATION_PATH,
        "introspection_endpoint": issuer + INTROSPECTION_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "grant_types_supported": list(GRANT_TYPES),
        "authorization_endpoint": issuer + AUTHORIZATION_PATH,
        # RP-Initiated Logout 1.0 §2.1.
        "end_session_endpoint": issuer + END_SESSION_PATH,
        # The code flow only (OAuth 2.1: no implicit or hybrid), answered in the query.
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        # RFC 7636 §4.2 with S256 only; plain is refused (OAuth 2.1 §4.1.1).
        "code_challenge_methods_supported": [pkce.METHOD],
        # RFC 9207 §3: every authorization response carries iss.
        "authorization_response_iss_parameter_supported": True,
        "scopes_supported": list(IDENTITY_SCOPES),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "prompt_values_supported": sorted(PROMPTS),
        # OpenID Discovery §3: request_uri_parameter_supported defaults to true; say no.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "subject_types_supported": ["public"],
        # OpenID Discovery §3 (REQUIRED; RS256 MUST be included): what the ring signs with
        # now, as for access tokens; each client's id_token_alg picks one.
        "id_token_signing_alg_values_supported": ring.signing_algorithms,
        # Public clients authenticate with client_id only (RFC 6749 §2.1).
        "token_endpoint_auth_methods_supported": [*CLIENT_AUTH, "none"],
        # RFC 7009 §2.1: public clients may revoke their own tokens.
        "revocation_endpoint_auth_methods_supported": [*CLIENT_AUTH, "none"],
        # RFC 7662 §2.1: the introspection endpoint MUST require authorization.
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH,
        # Not IANA-registered (RFC 9068 defines no metadata); the name other issuers use
        # (Gluu/Janssen, InterSystems) for the algs of JWT access tokens. What the ring
        # signs with now, so a verifier can pin exactly these.
        "access_token_signing_alg_values_supported": ring.signing_algorithms,
    }


def _document(runtime: Runtime) -> Response[bytes]:
    ring: KeyRing = runtime.keys.ring  # KeysNotLoaded: 503 until the ring is loaded
    body = _documents.get(ring)
    if body is None:
        document = metadata(runtime.settings, ring)
        body = _documents[ring] = json.dumps(document, separators=(",", ":")).encode()
    return Response(
        body,
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={runtime.settings.jwks_max_age}"},
    )


@get(OIDC_METADATA_PATH, sync_to_thread=False, include_in_schema=False)
def openid_configuration(runtime: RuntimeDep) -> Response[bytes]:
    """OpenID Connect Discovery 1.0 §4: `{issuer}/.well-known/openid-configuration`."""
    return _document(runtime)


@get(OAUTH_METADATA_PATH, sync_to_thread=False, include_in_schema=False)
def oauth_authorization_server(runtime: RuntimeDep) -> Response[bytes]:
    """RFC 8414 §3 for an issuer without a path; with one, see `root_routes`."""
    return _document(runtime)


def root_routes(prefix: str) -> list[HTTPRouteHandler]:
    """RFC 8414 §3: for issuer `https://host/tenant-a`, `/.well-known/oauth-authorization-
    server/tenant-a` at the root (the path-appended forms are served under the prefix)."""
    if not prefix:
        return []

    @get(OAUTH_METADATA_PATH + prefix, sync_to_thread=False, include_in_schema=False)
    def oauth_authorization_server_for_path(runtime: RuntimeDep) -> Response[bytes]:
        return _document(runtime)

    return [oauth_authorization_server_for_path]


ROUTES = [openid_configuration, oauth_authorization_server]
