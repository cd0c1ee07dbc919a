"""The grants the token endpoint knows, registered by `grant_type` (authlib's registry)."""

from __future__ import annotations

from issuer.oauth.grants.base import Grant, TokenRequest
from issuer.oauth.grants.client_credentials import ClientCredentialsGrant
from issuer.oauth.grants.password import PasswordGrant
from issuer.oauth.grants.refresh_token import RefreshTokenGrant

__all__ = [
    "DEFAULT_GRANTS",
    "ClientCredentialsGrant",
    "Grant",
    "PasswordGrant",
    "RefreshTokenGrant",
    "TokenRequest",
]

DEFAULT_GRANTS: tuple[type[Grant], ...] = (
    PasswordGrant,
    RefreshTokenGrant,
    ClientCredentialsGrant,
)
