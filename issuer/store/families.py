"""Verbs on refresh-token families and their tokens (RFC 9700 §4.14).

Consuming a token is one compare-and-set UPDATE (`… WHERE used_at IS NULL`), the same on
Postgres and SQLite, with no lock held across a round trip: of two concurrent refreshes of
one token exactly one sees its row updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import RefreshFamily, RefreshToken, User

__all__ = [
    "Consumed",
    "add_token",
    "consume",
    "family",
    "family_with_user",
    "find_token",
    "is_live",
    "purge_expired",
    "revoke",
    "revoke_for_user",
    "set_successor",
    "start",
]


@dataclass(frozen=True, slots=True)
class Consumed:
    """A token this caller has just consumed, and the family it belongs to."""

    jti: str
    family_id: str
    scope: str


async def start(
    session: AsyncSession,
    *,
    family_id: str,
    user_id: str,
    client_id: str,
    scope: str,
    audience: str,
    now: datetime,
    expires_at: datetime,
) -> RefreshFamily:
    row = RefreshFamily(
        id=family_id,
        user_id=user_id,
        client_id=client_id,
        scope=scope,
        audience=audience,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row


async def add_token(
    session: AsyncSession,
    *,
    jti: str,
    family_id: str,
    scope: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        RefreshToken(
            jti=jti, family_id=family_id, scope=scope, issued_at=now, expires_at=expires_at
        )
    )
    await session.flush()


async def consume(
    session: AsyncSession, jti: str, *, now: datetime, successor_jti: str | None = None
) -> Consumed | None:
    """Mark the token used if it is unused, unexpired and its family is live; else None.

    `successor_jti` records the successor in the same statement (one round trip less than
    `set_successor`); the caller inserts that token in the same transaction.
    """
    values: dict[str, object] = {"used_at": now}
    if successor_jti is not None:
        values["successor_jti"] = successor_jti
    live_family = select(RefreshFamily.id).where(
        RefreshFamily.revoked_at.is_(None), RefreshFamily.expires_at > now
    )
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == jti,
            RefreshToken.used_at.is_(None),
            RefreshToken.expires_at > now,
            RefreshToken.family_id.in_(live_family),
        )
        .values(values)
        .returning(RefreshToken.family_id, RefreshToken.scope)
    )
    row = result.first()
    if row is None:
        return None
    return Consumed(jti=jti, family_id=row.family_id, scope=row.scope)


async def set_successor(session: AsyncSession, jti: str, successor_jti: str) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.jti == jti).values(successor_jti=successor_jti)
    )


async def find_token(session: AsyncSession, jti: str) -> tuple[RefreshToken, RefreshFamily] | None:
    query = (
        select(RefreshToken, RefreshFamily)
        .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
        .where(RefreshToken.jti == jti)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def family(session: AsyncSession, family_id: str) -> RefreshFamily | None:
    return await session.get(RefreshFamily, family_id)


async def family_with_user(
    session: AsyncSession, family_id: str
) -> tuple[RefreshFamily, User] | None:
    """A family and its user in one round trip (the refresh path needs both)."""
    query = (
        select(RefreshFamily, User)
        .join(User, User.id == RefreshFamily.user_id)
        .where(RefreshFamily.id == family_id)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def is_live(session: AsyncSession, family_id: str, *, now: datetime) -> bool:
    query = select(RefreshFamily.id).where(
        RefreshFamily.id == family_id,
        RefreshFamily.revoked_at.is_(None),
        RefreshFamily.expires_at > now,
    )
    return (await session.scalar(query)) is not None


async def revoke(session: AsyncSession, family_id: str, *, reason: str, now: datetime) -> bool:
    """End a family (idempotent: the first reason stays). True if it was live."""
    result = await session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.id == family_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_for_user(
    session: AsyncSession, user_id: str, *, reason: str, now: datetime
) -> list[str]:
    """End every live family of a user (logout everywhere, disabled user); their ids."""
    result = await session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.user_id == user_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshFamily.id)
    )
    return [row.id for row in result]


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete families past their absolute lifetime (their tokens go with them) and tokens
    past their own expiry. Revoked families are kept until they expire, for introspection."""
    tokens = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
    families = await session.execute(delete(RefreshFamily).where(RefreshFamily.expires_at <= now))
    return int(tokens.rowcount) + int(families.rowcount)  # type: ignore[attr-defined]
