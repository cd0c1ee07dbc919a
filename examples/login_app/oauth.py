"""Authlib's OAuth 2.0 / OpenID Connect client, registered for Litestar.

Authlib ships registries for Flask, Django and Starlette; this is the same composition its
Starlette registry uses (`AsyncOAuth2Mixin` + `AsyncOpenIDMixin` over httpx), with the
request/response helpers left out: the Litestar handlers keep the per-request state
(`state`, `nonce`, `code_verifier`) in their own session. Everything protocol — discovery
through `server_metadata_url`, PKCE, the token request, ID token validation against the
JWKS (signature, `iss`, `aud`, `exp`, `nonce`, `at_hash`), UserInfo, the logout URL — is
Authlib's own code, unmodified.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client import (
    BaseApp,
    BaseOAuth,
    FrameworkIntegration,
)
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client


class LitestarIntegration(FrameworkIntegration):  # type: ignore[misc]
    """No framework-level config or token store: the app passes everything explicitly."""

    def update_token(self, token: Any, refresh_token: Any = None, access_token: Any = None) -> None:
        pass

    @staticmethod
    def load_config(oauth: Any, name: str, params: Any) -> dict[str, Any]:
        return {}


class LitestarOAuth2App(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):  # type: ignore[misc]
    client_cls = AsyncOAuth2Client


class OAuth(BaseOAuth):  # type: ignore[misc]
    oauth2_client_cls = LitestarOAuth2App
    framework_integration_cls = LitestarIntegration


def register_issuer(
    issuer_url: str, client_id: str, client_secret: str | None, *, scope: str
) -> LitestarOAuth2App:
    """A client configured from the issuer's discovery document alone, PKCE S256 on.

    Without a secret the client is public (`token_endpoint_auth_method=none`, the
    `client_id` in the token request); with one it uses `client_secret_basic`.
    """
    client_kwargs: dict[str, Any] = {"scope": scope, "code_challenge_method": "S256"}
    if client_secret is None:
        client_kwargs["token_endpoint_auth_method"] = "none"  # noqa: S105 (a method name)
    app: LitestarOAuth2App = OAuth().register(
        "issuer",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer_url.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    return app
