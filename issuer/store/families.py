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

from issuer.store.database import Database, Statement, string_list
from issuer.store.models import RefreshFamily, RefreshToken, User

__all__ = [
    "Consumed",
    "Rotated",
    "add_token",
    "consume",
    "family",
    "family_with_user",
    "find_token",
    "is_live",
    "purge_expired",
    "revoke",
    "revoke_for_user",
    "rotate",
    "set_successor",
    "start",
    "start_login",
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


# Postgres: a login's family and its first refresh token in one statement.
START_LOGIN = Statement(
    """
    WITH family AS (
        INSERT INTO refresh_families (id, user_id, client_id, scope, audience, created_at,
                                      expires_at)
        VALUES (:family_id, :user_id, :client_id, :scope, :audience, :now, :family_expires_at)
        RETURNING id
    )
    INSERT INTO refresh_tokens (jti, family_id, scope, issued_at, expires_at)
    SELECT :jti, family.id, :scope, :now, :expires_at FROM family
    RETURNING jti
    """
)


async def start_login(
    database: Database,
    *,
    family_id: str,
    user_id: str,
    client_id: str,
    scope: str,
    audience: str,
    now: datetime,
    family_expires_at: datetime,
    jti: str,
    expires_at: datetime,
) -> None:
    """Store a new family and its first refresh token, atomically."""
    if database.is_postgres:
        await database.fetch_one(
            START_LOGIN,
            family_id=family_id,
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            audience=audience,
            now=now,
            family_expires_at=family_expires_at,
            jti=jti,
            expires_at=expires_at,
        )
        return
    async with database.session() as session:
        await start(
            session,
            family_id=family_id,
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            audience=audience,
            now=now,
            expires_at=family_expires_at,
        )
        await add_token(
            session, jti=jti, family_id=family_id, scope=scope, now=now, expires_at=expires_at
        )


async def add_token(
    session: AsyncSession,
    *,
    jti: str,
    family_id: str,
    scope: str,
    now: datetime,
    expires_at: datetime,
) -> RefreshToken:
    row = RefreshToken(
        jti=jti, family_id=family_id, scope=scope, issued_at=now, expires_at=expires_at
    )
    session.add(row)
    await session.flush()
    return row


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


class _NotRotated(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Rotated:
    """A refresh token's stored successor, and what its access token needs."""

    family_id: str
    audience: str
    user_id: str
    roles: tuple[str, ...]
    jti: str
    scope: str
    issued_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, family: RefreshFamily, user: User, token: RefreshToken) -> Rotated:
        return cls(
            family_id=family.id,
            audience=family.audience,
            user_id=user.id,
            roles=tuple(user.roles),
            jti=token.jti,
            scope=token.scope,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
        )


# Postgres: consume, insert the successor and read what the response needs in one statement
# (one round trip, atomic on its own). The consume only matches a live family of this
# client whose user is enabled; anything else leaves every row as it was.
ROTATE = Statement(
    """
    WITH consumed AS (
        UPDATE refresh_tokens SET used_at = :now, successor_jti = :successor_jti
        WHERE jti = :jti AND used_at IS NULL AND expires_at > :now
          AND family_id IN (
              SELECT f.id FROM refresh_families AS f JOIN users AS u ON u.id = f.user_id
              WHERE f.revoked_at IS NULL AND f.expires_at > :now
                AND f.client_id = :client_id AND NOT u.disabled
          )
        RETURNING family_id, scope
    ),
    successor AS (
        INSERT INTO refresh_tokens (jti, family_id, scope, issued_at, expires_at)
        SELECT :successor_jti, f.id, consumed.scope, :now, LEAST(:expires_at, f.expires_at)
        FROM consumed JOIN refresh_families AS f ON f.id = consumed.family_id
        RETURNING family_id, scope, issued_at, expires_at
    )
    SELECT successor.family_id, successor.scope, successor.issued_at, successor.expires_at,
           f.audience, f.user_id, u.roles
    FROM successor
    JOIN refresh_families AS f ON f.id = successor.family_id
    JOIN users AS u ON u.id = f.user_id
    """
)


async def rotate(
    database: Database,
    jti: str,
    *,
    client_id: str,
    successor_jti: str,
    now: datetime,
    expires_at: datetime,
) -> Rotated | None:
    """Consume `jti` and store its successor (expiring at `expires_at` or with the family,
    whichever is first), atomically; None if the token is not an unused, unexpired token of
    a live family of `client_id` whose user is enabled (nothing changed then)."""
    if database.is_postgres:
        row = await database.fetch_one(
            ROTATE,
            jti=jti,
            client_id=client_id,
            successor_jti=successor_jti,
            now=now,
            expires_at=expires_at,
        )
        if row is None:
            return None
        return Rotated(
            family_id=row["family_id"],
            audience=row["audience"],
            user_id=row["user_id"],
            roles=string_list(row["roles"]),
            jti=successor_jti,
            scope=row["scope"],
            issued_at=row["issued_at"],
            expires_at=row["expires_at"],
        )
    # SQLite has no data-modifying CTEs: the same steps in one transaction.
    try:
        async with database.session() as session:
            consumed = await consume(session, jti, now=now, successor_jti=successor_jti)
            if consumed is None:
                return None
            loaded = await family_with_user(session, consumed.family_id)
            if loaded is None or loaded[0].client_id != client_id or loaded[1].disabled:
                raise _NotRotated  # rolls the consume back
            family, user = loaded
            successor = await add_token(
                session,
                jti=successor_jti,
                family_id=family.id,
                scope=consumed.scope,
                now=now,
                expires_at=min(expires_at, family.expires_at),
            )
    except _NotRotated:
        return None
    return Rotated.of(family, user, successor)


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
