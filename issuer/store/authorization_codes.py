"""Verbs on authorization codes (RFC 6749 §4.1.2): store, find, consume once, purge.

A code is known by its SHA-256 digest (hex), never stored in clear. Consuming is one
compare-and-set (`UPDATE … SET used_at … WHERE used_at IS NULL`) that also records what the
use is about to issue (its refresh family and access-token jti), so that a second use,
however close behind, finds what to revoke.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import AuthorizationCode

__all__ = ["StoredCode", "code_digest", "consume", "find", "purge_expired", "store"]


def code_digest(code: str) -> str:
    """What the table knows a code by: SHA-256, hex."""
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A code's row, detached from the session: what it is bound to and what it issued."""

    digest: str
    client_id: str
    user_id: str
    session_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    resource: str | None
    auth_time: datetime
    expires_at: datetime
    used_at: datetime | None
    family_id: str | None
    access_token_jti: str | None
    access_token_expires_at: datetime | None

    @classmethod
    def of(cls, row: AuthorizationCode) -> StoredCode:
        return cls(
            digest=row.digest,
            client_id=row.client_id,
            user_id=row.user_id,
            session_id=row.session_id,
            redirect_uri=row.redirect_uri,
            code_challenge=row.code_challenge,
            nonce=row.nonce,
            scope=row.scope,
            resource=row.resource,
            auth_time=row.auth_time,
            expires_at=row.expires_at,
            used_at=row.used_at,
            family_id=row.family_id,
            access_token_jti=row.access_token_jti,
            access_token_expires_at=row.access_token_expires_at,
        )


async def store(
    session: AsyncSession,
    *,
    digest: str,
    client_id: str,
    user_id: str,
    session_id: str,
    redirect_uri: str,
    code_challenge: str,
    nonce: str | None,
    scope: str,
    resource: str | None,
    auth_time: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        AuthorizationCode(
            digest=digest,
            client_id=client_id,
            user_id=user_id,
            session_id=session_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            nonce=nonce,
            scope=scope,
            resource=resource,
            auth_time=auth_time,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def find(session: AsyncSession, digest: str) -> StoredCode | None:
    row = await session.get(AuthorizationCode, digest)
    return None if row is None else StoredCode.of(row)


async def consume(
    session: AsyncSession,
    digest: str,
    *,
    client_id: str,
    now: datetime,
    family_id: str | None,
    access_token_jti: str,
    access_token_expires_at: datetime,
) -> bool:
    """Mark an unused, unexpired code of `client_id` used, recording what this use issues;
    False if it was not (used meanwhile, expired, unknown). Of two concurrent consumes
    exactly one wins: the loser's UPDATE waits for the winner's commit, then matches
    nothing."""
    result = await session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.digest == digest,
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(
            used_at=now,
            family_id=family_id,
            access_token_jti=access_token_jti,
            access_token_expires_at=access_token_expires_at,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete expired codes: an unused one at once, a used one once the access token its use
    issued has expired too (until then its row is what detects and answers a replay)."""
    result = await session.execute(
        delete(AuthorizationCode).where(
            AuthorizationCode.expires_at <= now,
            or_(
                AuthorizationCode.used_at.is_(None),
                AuthorizationCode.access_token_expires_at.is_(None),
                AuthorizationCode.access_token_expires_at <= now,
            ),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
