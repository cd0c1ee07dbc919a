"""Tables of the issuer. One Alembic revision per change; never edit a landed one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "Base",
    "BrowserSession",
    "Client",
    "Consent",
    "JobLease",
    "LoginAttempt",
    "RefreshFamily",
    "RefreshToken",
    "RevokedAccessToken",
    "SigningKey",
    "User",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UTCDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class User(Base):
    """A resource owner. `email` is stored lower-cased, which makes it case-insensitive."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Client(Base):
    """An OAuth client (RFC 6749 §2). Confidential clients keep a SHA-256 secret digest."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    secret_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # After a rotation with an overlap, the previous secret's digest is accepted until then.
    previous_secret_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    audiences: Mapped[list[str]] = mapped_column(JSON, default=list)
    alg: Mapped[str | None] = mapped_column(String(16), nullable=True)
    access_token_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # RFC 7662 §4: may introspect access tokens for any audience (a gateway), not only its own.
    introspect_any: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    # The login (issue 12): the name on the consent page, the redirect URIs (exact strings),
    # whether the user is asked (a third-party client), the ID token's signing alg.
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    redirect_uris: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    consent_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    id_token_alg: Mapped[str] = mapped_column(String(16), default="RS256", server_default="RS256")


class SigningKey(Base):
    """One key of the key ring; `private_blob` is AES-GCM(nonce || ciphertext) under the KEK."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    published_at: Mapped[datetime] = mapped_column(Timestamp)
    activated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # A retired key stays in the JWKS until every token it signed has expired.
    unpublish_after: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)

    # The database itself guarantees one active and one next key per alg, so two processes
    # rotating at once cannot both win.
    __table_args__ = (
        Index(
            "uq_signing_keys_one_active_per_alg",
            "alg",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        Index(
            "uq_signing_keys_one_next_per_alg",
            "alg",
            unique=True,
            postgresql_where=text("state = 'next'"),
            sqlite_where=text("state = 'next'"),
        ),
    )


class RefreshFamily(Base):
    """One login's chain of refresh tokens (RFC 9700 §4.14); revoking it ends them all."""

    __tablename__ = "refresh_families"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text, default="", server_default="")
    audience: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The browser session the family started in (a code login): logout ends it. No foreign
    # key: a family outlives its session's row.
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class RefreshToken(Base):
    """A refresh token of a family, consumed once (`used_at`). The token is an opaque handle
    the issuer never stores: `jti` is its SHA-256 digest (hex), `successor_jti` the digest of
    the token that replaced it (`issuer.oauth.handles`)."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(
        ForeignKey("refresh_families.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text, default="", server_default="")
    issued_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # The single successor issued when this token was consumed (grace-period replays derive
    # the same token again from the presented one; only its digest is here).
    successor_jti: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RevokedAccessToken(Base):
    """The deny-list: revoked access-token ids, kept until the token would have expired."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    revoked_at: Mapped[datetime] = mapped_column(Timestamp)


class AuditEvent(Base):
    """Who did what to which key, user, client or family; written in the same transaction."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(320), default="", index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobLease(Base):
    """A lease that lets one process at a time run a background job, on any database."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class LoginAttempt(Base):
    """A failed-login counter (per account, address or both) shared by every process.

    `key` is a SHA-256 digest of what is counted: bounded whatever a client sends as the
    username, and no e-mail address in clear. The counter covers one fixed window.
    """

    __tablename__ = "login_attempts"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # Attempts counted in this window: failures, and those still `pending` a verdict.
    failures: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class BrowserSession(Base):
    """A user's SSO session in one browser (`issuer_session` cookie). `id` is the SHA-256
    digest (hex) of the cookie value, which is never stored."""

    __tablename__ = "browser_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 §4.1.2), known by its SHA-256 digest (hex), with what
    it is bound to; `used_at` marks its one use, and `family_id` / `access_token_jti` what
    that use issued (revoked if the code comes back)."""

    __tablename__ = "authorization_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text, nullable=True)
    auth_time: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    family_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    access_token_jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class Consent(Base):
    """The scopes a user granted a client (space-separated), asked once per new scope."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(Timestamp)
