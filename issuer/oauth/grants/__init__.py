"""The grants the token endpoint knows, registered by `grant_type` (authlib's registry)."""

from __future__ import annotations

from issuer.oauth.grants.authorization_code import AuthorizationCodeGrant
from issuer.oauth.grants.base import Grant, TokenRequest
from issuer.oauth.grants.client_credentials import ClientCredentialsGrant
from issuer.oauth.grants.password import PasswordGrant
from issuer.oauth.grants.refresh_token import RefreshTokenGrant

__all__ = [
    "DEFAULT_GRANTS",
    "GRANT_TYPES",
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "Grant",
    "PasswordGrant",
    "RefreshTokenGrant",
    "TokenRequest",
]

DEFAULT_GRANTS: tuple[type[Grant], ...] = (
    AuthorizationCodeGrant,
    PasswordGrant,
    RefreshTokenGrant,
    ClientCredentialsGrant,
)

# Every grant_type the token endpoint can answer, in registry order: what discovery
# advertises and what a client may be registered for.
GRANT_TYPES: tuple[str, ...] = tuple(grant.GRANT_TYPE for grant in DEFAULT_GRANTS)
