"""What every grant shares: the request it handles, the interface, scope and audience rules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from issuer.errors import InvalidScope, InvalidTarget
from issuer.oauth.client_auth import ClientInfo
from issuer.oauth.forms import Form

if TYPE_CHECKING:
    from issuer.oauth.server import AuthorizationServer

__all__ = [
    "ADMIN_SCOPE",
    "IDENTITY_SCOPES",
    "Grant",
    "TokenRequest",
    "resolve_audience",
    "resolve_scope",
    "scope_tokens",
]

# The scope that opens the admin API. Only a client's own token (client_credentials) may
# carry it; a user is an admin through the `admin` role, never through a scope.
ADMIN_SCOPE = "issuer:admin"
# OpenID Connect Core §5.4 and §11: the scopes about the user's identity, which any client
# of the code flow may ask for without registering them.
IDENTITY_SCOPES = ("openid", "profile", "email", "offline_access")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request whose client is already authenticated and allowed the grant type."""

    form: Form
    client: ClientInfo
    address: str
    now: datetime


class Grant(ABC):
    """One grant type (RFC 6749 §4 to §6): validate the request, then issue the tokens."""

    GRANT_TYPE: ClassVar[str]

    def __init__(self, server: AuthorizationServer) -> None:
        self.server = server

    @abstractmethod
    async def create_token_response(self, request: TokenRequest) -> dict[str, Any]:
        """The RFC 6749 §5.1 response body, or an `OAuthError`."""


def scope_tokens(scope: str | None) -> list[str]:
    """RFC 6749 §3.3: a space-delimited list of scope tokens, duplicates dropped."""
    return list(dict.fromkeys((scope or "").split()))


def resolve_scope(
    requested: str | None, allowed: tuple[str, ...] | list[str], *, for_client: bool = False
) -> str:
    """The requested scope if every token is allowed; the allowed scope if none was asked.

    `ADMIN_SCOPE` is granted only `for_client` (a client's own token): a token issued for
    a user never carries it, asked for or not.
    """
    if not for_client:
        allowed = [token for token in allowed if token != ADMIN_SCOPE]
    wanted = scope_tokens(requested)
    if not wanted:
        return " ".join(allowed)
    refused = [token for token in wanted if token not in allowed]
    if refused:
        # RFC 6749 §5.2 invalid_scope: "exceeds the scope granted by the resource owner".
        raise InvalidScope(f"scope not allowed: {' '.join(refused)}")
    return " ".join(wanted)


def resolve_audience(form: Form, client: ClientInfo) -> str:
    """The one target of the token: `audience` or RFC 8707 `resource`, else the default."""
    audience = form.get("audience")
    resources = form.all("resource")
    if len(resources) > 1:
        raise InvalidTarget("one resource per token request")
    resource = resources[0] if resources else None
    if audience is not None and resource is not None and audience != resource:
        raise InvalidTarget("audience and resource name different targets")
    target = audience or resource
    if target is None:
        if not client.audiences:
            raise InvalidTarget("the client has no audience")
        return client.audiences[0]
    # RFC 8707 §2: invalid_target when the resource is not one this client may ask for.
    if target not in client.audiences:
        raise InvalidTarget("the requested audience is not allowed for this client")
    return target
