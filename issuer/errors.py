"""OAuth errors as data (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009, RFC 8707).

Domain code raises `InvalidGrant("refresh token reused")`; one web handler renders the JSON,
status, `WWW-Authenticate` and `Cache-Control: no-store`. `description` is what the client
sees; `debug` goes only to the log.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "InvalidToken",
    "KeysNotLoaded",
    "NoCredentials",
    "NotFound",
    "OAuthError",
    "ServerError",
    "SlowDown",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
]


class OAuthError(Exception):
    """An error with an RFC code, an HTTP status and a client-safe description."""

    error: str = "invalid_request"
    status: int = 400
    # RFC 6750 §3: errors about the bearer token itself are announced in WWW-Authenticate.
    bearer_challenge: bool = False

    def __init__(
        self,
        description: str = "",
        *,
        debug: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description or self.error)
        self.description = description
        self.debug = debug
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    # RFC 6749 §5.2: 401 with a WWW-Authenticate naming the scheme the client may use.
    error = "invalid_client"
    status = 401

    def __init__(self, description: str = "client authentication failed", **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.headers.setdefault("WWW-Authenticate", 'Basic realm="issuer", charset="UTF-8"')


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the requested resource/audience is not one this client may have."""

    error = "invalid_target"


class UnsupportedTokenType(OAuthError):
    """RFC 7009 §2.2.1."""

    error = "unsupported_token_type"


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403


class SlowDown(OAuthError):
    """Too many attempts: 429 with Retry-After."""

    error = "slow_down"
    status = 429

    def __init__(self, description: str, *, retry_after: int, **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.headers["Retry-After"] = str(max(1, retry_after))


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed."""

    error = "invalid_token"
    status = 401
    bearer_challenge = True


class NoCredentials(InvalidToken):
    """RFC 6750 §3.1: the request carried no authentication at all, so the challenge names
    no error code (the body still has the RFC 6749 §5.2 shape)."""


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1: the token lacks the scope or role the resource needs."""

    error = "insufficient_scope"
    status = 403
    bearer_challenge = True


class NotFound(OAuthError):
    error = "not_found"
    status = 404


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status = 503


class KeysNotLoaded(TemporarilyUnavailable):
    """The key ring was asked for before this process loaded it.

    The database was unavailable at start; the ring loads within ISSUER_RING_REFRESH_SECONDS
    (5 s by default) of it answering, hence the Retry-After.
    """

    def __init__(self) -> None:
        super().__init__("the signing keys are not loaded yet", headers={"Retry-After": "5"})


class ServerError(OAuthError):
    error = "server_error"
    status = 500
