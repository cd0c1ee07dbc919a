"""The admin API's bodies (msgspec), its error answers, and rows rendered as bodies.

Never private material: keys show only their public JWK, clients never their secret
digest, users never their password hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Request
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from issuer.errors import InvalidRequest
from issuer.jose.algs import SigningAlg
from issuer.keyring.states import KeyState
from issuer.oauth.forms import refuse_nul
from issuer.oauth.grants import GRANT_TYPES
from issuer.oauth.id_tokens import DEFAULT_ID_TOKEN_ALG
from issuer.store.models import AuditEvent, Client, SigningKey, User

__all__ = [
    "AuditOut",
    "ClientChange",
    "ClientCreated",
    "ClientDeleted",
    "ClientDisabled",
    "ClientOut",
    "Conflict",
    "ConsentsRevoked",
    "ErrorBody",
    "KeyOut",
    "Limit",
    "NewClientIn",
    "NewUser",
    "Offset",
    "RevocationOut",
    "RevokeConsentsIn",
    "RotateIn",
    "RotateSecretIn",
    "RotationOut",
    "SecretRotated",
    "SessionsRevoked",
    "UserDisabled",
    "UserOut",
    "errors",
    "refuse_nul_parameters",
]

# Bounds that keep every value inside what the databases store, so that bad input is a 400
# here rather than a 500 there: Postgres INTEGER and BIGINT, and text without NUL.
INT32_MAX = 2**31 - 1
# The largest integer a JSON number carries exactly (IEEE double): the OpenAPI document's
# `maximum` is a number, and 2**63 - 1 rounded up made the declared bound a refused value.
JSON_INT_MAX = 2**53 - 1
NO_NUL = r"^[^\x00]*$"

Limit = Annotated[int, Parameter(ge=1, le=500, description="page size")]
Offset = Annotated[int, Parameter(ge=0, le=JSON_INT_MAX, description="rows to skip")]
Text = Annotated[str, msgspec.Meta(pattern=NO_NUL)]
Seconds = Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX)]
Uri = Annotated[str, msgspec.Meta(min_length=1, max_length=2048, pattern=NO_NUL)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]


def refuse_nul_parameters(request: Request[Any, Any, Any]) -> None:
    """Before every admin handler: no path or query parameter may hold a NUL (Postgres
    text cannot store one; before, such a value reached the database and answered 500)."""
    refuse_nul(*(str(value) for value in request.path_params.values()))
    refuse_nul(*(value for _, value in request.query_params.multi_items()))


class Conflict(InvalidRequest):
    """The e-mail or client id is taken, or the state forbids it (RFC 9110 §15.5.10)."""

    status = 409


class ErrorBody(msgspec.Struct):
    """An error in the RFC 6749 §5.2 / RFC 6750 §3.1 shape."""

    error: str
    error_description: str | None = None


_ERRORS = {
    400: "invalid_request: malformed or invalid input",
    401: "invalid_token: no, invalid, expired or revoked access token (WWW-Authenticate: Bearer)",
    403: "insufficient_scope: the token has neither role admin nor scope issuer:admin",
    404: "not_found: no such user, client or key",
    409: "invalid_request: conflicts with the current state",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI error responses: 400, 401 and 403 on every admin route, plus `codes`."""
    return {
        code: ResponseSpec(ErrorBody, description=_ERRORS[code]) for code in (400, 401, 403, *codes)
    }


# ---- keys --------------------------------------------------------------------------------


class KeyOut(msgspec.Struct):
    """A signing key's lifecycle; only the public JWK, never private material."""

    kid: str
    alg: str
    state: KeyState
    created_at: datetime
    published_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    unpublish_after: datetime | None
    revoked_at: datetime | None
    public_jwk: dict[str, str]

    @classmethod
    def of(cls, row: SigningKey) -> KeyOut:
        return cls(
            kid=row.kid,
            alg=row.alg,
            state=KeyState(row.state),
            created_at=row.created_at,
            published_at=row.published_at,
            activated_at=row.activated_at,
            retired_at=row.retired_at,
            unpublish_after=row.unpublish_after,
            revoked_at=row.revoked_at,
            public_jwk={name: str(value) for name, value in row.public_jwk.items()},
        )


class RotateIn(msgspec.Struct, forbid_unknown_fields=True):
    """Rotate one alg, or every configured alg when `alg` is omitted."""

    alg: SigningAlg | None = None
    force: bool = False


class RotationOut(msgspec.Struct):
    """`outcome`: rotated, too_early (see wait_seconds and too_early_until) or lost_race
    (another rotation won)."""

    alg: str
    outcome: Literal["rotated", "too_early", "lost_race"]
    message: str
    activated: str | None
    retired: str | None
    next: str | None
    wait_seconds: int
    too_early_until: datetime | None
    risk: str | None


class RevocationOut(msgspec.Struct):
    kid: str
    alg: str
    previous_state: KeyState
    message: str
    activated: str | None
    next: str | None
    risk: str | None


# ---- users -------------------------------------------------------------------------------


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=NO_NUL)]
    # Its policy (8 to 1024 characters) is checked by `accounts.users.check_password`,
    # which says what is wrong; the body size limit bounds it before that.
    password: Text
    roles: list[Text] = msgspec.field(default_factory=list)


class UserOut(msgspec.Struct):
    id: str
    email: str
    roles: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: User) -> UserOut:
        return cls(
            id=row.id,
            email=row.email,
            roles=list(row.roles),
            disabled=row.disabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class UserDisabled(msgspec.Struct):
    user: UserOut
    sessions_revoked: int


class SessionsRevoked(msgspec.Struct):
    user_id: str
    sessions_revoked: int


class RevokeConsentsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Forget the consents to this client only; all of them when left out."""

    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)] | None = (
        None
    )


class ConsentsRevoked(msgspec.Struct):
    user_id: str
    client_id: str | None
    consents_revoked: int


# ---- clients -----------------------------------------------------------------------------

if TYPE_CHECKING:
    GrantType = str
else:
    # The registry's grant types as an enum: validated by msgspec, listed in the OpenAPI.
    GrantType = Literal[GRANT_TYPES]


class NewClientIn(msgspec.Struct, forbid_unknown_fields=True):
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)]
    grant_types: list[GrantType] = msgspec.field(default_factory=list)
    scopes: list[Text] = msgspec.field(default_factory=list)
    audiences: list[Text] = msgspec.field(default_factory=list)
    public: bool = False
    alg: SigningAlg | None = None
    access_token_ttl: Seconds | None = None
    refresh_token_ttl: Seconds | None = None
    # May introspect access tokens of any audience (a gateway); else only its own audiences.
    introspect_any: bool = False
    # The login (authorization code flow): exact redirect URIs (https, loopback http or a
    # private-use scheme, no fragment), whether users are asked, the ID token's alg.
    name: Name | None = None
    redirect_uris: list[Uri] = msgspec.field(default_factory=list)
    post_logout_redirect_uris: list[Uri] = msgspec.field(default_factory=list)
    consent_required: bool = False
    id_token_alg: SigningAlg = DEFAULT_ID_TOKEN_ALG


class ClientOut(msgspec.Struct):
    """A registered client; its secret digest is never shown."""

    client_id: str
    public: bool
    grant_types: list[str]
    scopes: list[str]
    audiences: list[str]
    alg: str | None
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    disabled: bool
    created_at: datetime
    # After a rotation with an overlap: until when the previous secret still works.
    rotation_overlap_until: datetime | None
    introspect_any: bool = False
    name: str | None = None
    redirect_uris: list[str] = msgspec.field(default_factory=list)
    post_logout_redirect_uris: list[str] = msgspec.field(default_factory=list)
    consent_required: bool = False
    id_token_alg: str = DEFAULT_ID_TOKEN_ALG

    @classmethod
    def of(cls, row: Client) -> ClientOut:
        return cls(
            client_id=row.client_id,
            public=row.public,
            grant_types=list(row.grant_types),
            scopes=list(row.scopes),
            audiences=list(row.audiences),
            alg=row.alg,
            access_token_ttl=row.access_token_ttl,
            refresh_token_ttl=row.refresh_token_ttl,
            disabled=row.disabled,
            created_at=row.created_at,
            rotation_overlap_until=row.previous_secret_expires_at,
            introspect_any=row.introspect_any,
            name=row.name,
            redirect_uris=list(row.redirect_uris),
            post_logout_redirect_uris=list(row.post_logout_redirect_uris),
            consent_required=row.consent_required,
            id_token_alg=row.id_token_alg,
        )


class ClientChange(msgspec.Struct, forbid_unknown_fields=True):
    """The settings to change; a field left out is kept, `null` resets alg or a lifetime to
    the issuer's default. `public` cannot change."""

    grant_types: list[GrantType] | msgspec.UnsetType = msgspec.UNSET
    scopes: list[Text] | msgspec.UnsetType = msgspec.UNSET
    audiences: list[Text] | msgspec.UnsetType = msgspec.UNSET
    alg: SigningAlg | msgspec.UnsetType | None = msgspec.UNSET
    access_token_ttl: Seconds | msgspec.UnsetType | None = msgspec.UNSET
    refresh_token_ttl: Seconds | msgspec.UnsetType | None = msgspec.UNSET
    name: Name | msgspec.UnsetType | None = msgspec.UNSET
    redirect_uris: list[Uri] | msgspec.UnsetType = msgspec.UNSET
    post_logout_redirect_uris: list[Uri] | msgspec.UnsetType = msgspec.UNSET
    consent_required: bool | msgspec.UnsetType = msgspec.UNSET
    # null resets it to RS256.
    id_token_alg: SigningAlg | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in msgspec.structs.asdict(self).items()
            if value is not msgspec.UNSET
        }


class RotateSecretIn(msgspec.Struct, forbid_unknown_fields=True):
    """`overlap_seconds`: how long the old secret keeps working (default
    ISSUER_CLIENT_SECRET_OVERLAP_SECONDS)."""

    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)] | None = None


class SecretRotated(msgspec.Struct):
    """The new secret, shown this once, and until when the old one works (null: no longer)."""

    client: ClientOut
    client_secret: str
    rotation_overlap_until: datetime | None


class ClientDisabled(msgspec.Struct):
    client: ClientOut
    sessions_revoked: int


class ClientDeleted(msgspec.Struct):
    client_id: str
    sessions_revoked: int


class ClientCreated(msgspec.Struct):
    """The new client and its secret, shown this once (null for a public client)."""

    client: ClientOut
    client_secret: str | None


# ---- audit -------------------------------------------------------------------------------


class AuditOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: AuditEvent) -> AuditOut:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            detail=dict(row.detail),
        )
