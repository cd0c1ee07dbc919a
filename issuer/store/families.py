"""Verbs on refresh-token families and their tokens (RFC 9700 §4.14).

The rules come first and are written once, in SQLAlchemy Core: `live_family` (not revoked,
within its lifetime, its user enabled) and `live_token` (unused, unexpired, of a live
family). Rotation, login, introspection and the access-token state (`token_state`) are all
built from them.

Rotating is one compare-and-set UPDATE (`… WHERE used_at IS NULL`) with no lock held across
a round trip: of two concurrent refreshes of one token exactly one sees its row updated. On
Postgres the consume, the successor's INSERT and the read of what the response needs are one
statement (data-modifying CTEs), compiled for asyncpg once at import: one round trip. SQLite
has no data-modifying CTEs, so it runs the same UPDATE, then the INSERT, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import BindParameter

from issuer.store import audit
from issuer.store.database import Database, Statement, string_list
from issuer.store.models import RefreshFamily, RefreshToken, Timestamp, User

__all__ = [
    "Granted",
    "LiveRefreshToken",
    "Refusal",
    "Refused",
    "Rotated",
    "add_login",
    "count_live_for_client",
    "find_token",
    "first_token",
    "granted",
    "live_family",
    "live_refresh_token",
    "live_token",
    "purge_expired",
    "revoke",
    "revoke_for_client",
    "revoke_for_session",
    "revoke_for_user",
    "rotate",
    "settle_failed_rotation",
    "start_login",
]

When = datetime | BindParameter[datetime]


# -- The rules ---------------------------------------------------------------------------


def live_family(now: When) -> ColumnElement[bool]:
    """A family whose tokens still work: not revoked, within its lifetime, its user enabled."""
    user_enabled = (
        exists()
        .where(User.id == RefreshFamily.user_id, User.disabled.is_(False))
        .correlate_except(User)
    )
    return and_(RefreshFamily.revoked_at.is_(None), RefreshFamily.expires_at > now, user_enabled)


def live_token(
    now: When, *, client_id: str | BindParameter[str] | None = None
) -> ColumnElement[bool]:
    """An unused, unexpired refresh token of a live family (of `client_id`, if given)."""
    families = select(RefreshFamily.id).where(live_family(now))
    if client_id is not None:
        families = families.where(RefreshFamily.client_id == client_id)
    return and_(
        RefreshToken.used_at.is_(None),
        RefreshToken.expires_at > now,
        RefreshToken.family_id.in_(families),
    )


# -- The statements, built from the rules -------------------------------------------------

# Named unlike any column: an UPDATE would take a parameter named after one as a SET value.
_NOW = bindparam("now", type_=Timestamp)
_UNTIL = bindparam("until", type_=Timestamp)
_PRESENTED = bindparam("presented", type_=String)
_SUCCESSOR = bindparam("successor", type_=String)
_CLIENT = bindparam("client", type_=String)

# Consume a live token of this client, recording its successor; both databases run it.
_CONSUME = (
    update(RefreshToken)
    .where(RefreshToken.jti == _PRESENTED, live_token(_NOW, client_id=_CLIENT))
    .values(used_at=_NOW, successor_jti=_SUCCESSOR)
    .returning(RefreshToken.family_id, RefreshToken.scope)
)


def _rotate_on_postgres() -> Statement:
    """Consume, insert the successor (expiring with the family at the latest) and read what
    the response needs, in one statement; anything not live leaves every row as it was."""
    consumed = _CONSUME.cte("consumed")
    successor = (
        insert(RefreshToken)
        .from_select(
            ["jti", "family_id", "scope", "issued_at", "expires_at"],
            select(
                _SUCCESSOR,
                RefreshFamily.id,
                consumed.c.scope,
                _NOW,
                func.least(_UNTIL, RefreshFamily.expires_at),
            ).join_from(consumed, RefreshFamily, RefreshFamily.id == consumed.c.family_id),
        )
        .returning(
            RefreshToken.family_id,
            RefreshToken.scope,
            RefreshToken.issued_at,
            RefreshToken.expires_at,
        )
        .cte("successor")
    )
    return Statement.of(
        select(
            successor.c.family_id,
            successor.c.scope,
            successor.c.issued_at,
            successor.c.expires_at,
            RefreshFamily.audience,
            RefreshFamily.user_id,
            User.roles,
        )
        .join_from(successor, RefreshFamily, RefreshFamily.id == successor.c.family_id)
        .join(User, User.id == RefreshFamily.user_id)
    )


def _login_on_postgres() -> Statement:
    """A login's family and its first refresh token in one statement."""
    family = (
        insert(RefreshFamily)
        .values(
            id=bindparam("family", type_=String),
            user_id=bindparam("user", type_=String),
            client_id=_CLIENT,
            scope=bindparam("granted", type_=String),
            audience=bindparam("aud", type_=String),
            created_at=_NOW,
            expires_at=bindparam("family_until", type_=Timestamp),
        )
        .returning(RefreshFamily.id)
        .cte("family")
    )
    return Statement.of(first_token(family.c.id, bindparam("granted", type_=String), _UNTIL))


def first_token(
    family_id: ColumnElement[str], scope: ColumnElement[str], until: BindParameter[datetime]
) -> ReturningInsert[tuple[str]]:
    """The INSERT of a new family's first refresh token (its jti bound as `first`), from the
    family a login's statement inserts before it, in a CTE."""
    return (
        insert(RefreshToken)
        .from_select(
            ["jti", "family_id", "scope", "issued_at", "expires_at"],
            select(bindparam("first", type_=String), family_id, scope, _NOW, until),
        )
        .returning(RefreshToken.jti)
    )


ROTATE = _rotate_on_postgres()
START_LOGIN = _login_on_postgres()
# Introspection of a refresh token: one round trip on both databases.
LIVE_REFRESH_TOKEN = Statement.of(
    select(
        RefreshToken.family_id,
        RefreshToken.scope,
        RefreshToken.issued_at,
        RefreshToken.expires_at,
        RefreshFamily.user_id,
    )
    .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
    .where(RefreshToken.jti == _PRESENTED, live_token(_NOW, client_id=_CLIENT))
)
# What a refresh token was granted (a refresh that narrows the scope or names an audience).
GRANTED = Statement.of(
    select(RefreshFamily.client_id, RefreshToken.scope, RefreshFamily.audience)
    .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
    .where(RefreshToken.jti == _PRESENTED)
)


# -- Verbs ---------------------------------------------------------------------------------


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
            family=family_id,
            user=user_id,
            client=client_id,
            granted=scope,
            aud=audience,
            now=now,
            family_until=family_expires_at,
            first=jti,
            until=expires_at,
        )
        return
    async with database.session() as session:
        await add_login(
            session,
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


async def add_login(
    session: AsyncSession,
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
    session_id: str | None = None,
) -> None:
    """`start_login` inside the caller's transaction (a code exchange consumes its code in
    the same one); `session_id` is the browser session the login happened in."""
    await session.execute(
        insert(RefreshFamily).values(
            id=family_id,
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            audience=audience,
            created_at=now,
            expires_at=family_expires_at,
            session_id=session_id,
        )
    )
    await session.execute(
        insert(RefreshToken).values(
            jti=jti, family_id=family_id, scope=scope, issued_at=now, expires_at=expires_at
        )
    )


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
    whichever is first), atomically; None if it is not a live token of `client_id` (nothing
    changed then; `settle_failed_rotation` says why)."""
    params = {"presented": jti, "client": client_id, "successor": successor_jti, "now": now}
    if database.is_postgres:
        row = await database.fetch_one(ROTATE, until=expires_at, **params)
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
    async with database.session() as session:
        consumed = (await session.execute(_CONSUME, params)).first()
        if consumed is None:
            return None
        found = (
            await session.execute(
                select(RefreshFamily, User)
                .join(User, User.id == RefreshFamily.user_id)
                .where(RefreshFamily.id == consumed.family_id)
            )
        ).one()
        family, user = found[0], found[1]
        successor = RefreshToken(
            jti=successor_jti,
            family_id=family.id,
            scope=consumed.scope,
            issued_at=now,
            expires_at=min(expires_at, family.expires_at),
        )
        session.add(successor)
        await session.flush()
    return Rotated.of(family, user, successor)


class Refusal(Enum):
    """Why a refresh token could not be rotated."""

    UNKNOWN = "unknown"
    OTHER_CLIENT = "other_client"
    REVOKED = "revoked"
    EXPIRED = "expired"
    USER_DISABLED = "user_disabled"  # its family has just been revoked
    REUSED = "reused"  # its family has just been revoked, and the reuse audited
    RETRY = "retry"  # it is live now: a concurrent change made the rotation miss it


@dataclass(frozen=True, slots=True)
class Refused:
    why: Refusal
    family_id: str = ""
    detail: str = ""


async def settle_failed_rotation(
    database: Database,
    jti: str,
    *,
    client_id: str,
    now: datetime,
    grace: timedelta,
    actor: str,
) -> Rotated | Refused:
    """Why `rotate` matched nothing, acted on: within `grace` of its consume a token's
    still-unused successor is handed out again; a disabled user's family is revoked; any other
    used token is reuse (RFC 9700 §4.14.2): its family is revoked and audited. Whatever is
    revoked is committed before this returns, so the caller may then raise."""
    async with database.session() as session:
        found = await find_token(session, jti)
        if found is None:
            return Refused(Refusal.UNKNOWN)
        token, family = found
        if family.client_id != client_id:
            return Refused(Refusal.OTHER_CLIENT, family.id)
        if family.revoked_at is not None:
            return Refused(Refusal.REVOKED, family.id, family.revoked_reason or "")
        if family.expires_at <= now or token.expires_at <= now:
            return Refused(Refusal.EXPIRED, family.id)
        if token.used_at is None:
            user = await session.get(User, family.user_id)
            if user is None or not user.disabled:  # pragma: no cover - it would rotate
                return Refused(Refusal.RETRY, family.id)
            # A disabled user's sessions end at their next refresh at the latest.
            await revoke(session, family.id, reason="user_disabled", now=now)
            return Refused(Refusal.USER_DISABLED, family.id)
        if grace and token.successor_jti and now - token.used_at <= grace:
            # Never an older token: once the successor is used, a replay is plain reuse.
            successor = await session.scalar(
                select(RefreshToken).where(
                    RefreshToken.jti == token.successor_jti, live_token(now, client_id=client_id)
                )
            )
            user = await session.get(User, family.user_id)
            if successor is not None and user is not None:
                return Rotated.of(family, user, successor)
        await revoke(session, family.id, reason="reuse", now=now)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="family.reuse",
            subject=family.id,
            detail={"jti": jti, "user_id": family.user_id},
        )
    return Refused(Refusal.REUSED, family.id)


@dataclass(frozen=True, slots=True)
class LiveRefreshToken:
    family_id: str
    user_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime


async def live_refresh_token(
    database: Database, jti: str, *, client_id: str, now: datetime
) -> LiveRefreshToken | None:
    """`jti` if it is a live refresh token of `client_id` (introspection), in one round trip."""
    row = await database.fetch_one(LIVE_REFRESH_TOKEN, presented=jti, client=client_id, now=now)
    if row is None:
        return None
    return LiveRefreshToken(
        family_id=row["family_id"],
        user_id=row["user_id"],
        scope=row["scope"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
    )


@dataclass(frozen=True, slots=True)
class Granted:
    client_id: str
    scope: str
    audience: str


async def granted(database: Database, jti: str) -> Granted | None:
    """The client, scope and audience a refresh token was issued with, live or not."""
    row = await database.fetch_one(GRANTED, presented=jti)
    if row is None:
        return None
    return Granted(client_id=row["client_id"], scope=row["scope"], audience=row["audience"])


async def find_token(session: AsyncSession, jti: str) -> tuple[RefreshToken, RefreshFamily] | None:
    query = (
        select(RefreshToken, RefreshFamily)
        .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
        .where(RefreshToken.jti == jti)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


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
    return await _revoke_every(session, RefreshFamily.user_id == user_id, reason=reason, now=now)


async def revoke_for_client(
    session: AsyncSession, client_id: str, *, reason: str, now: datetime
) -> list[str]:
    """End every live family of a client (client disabled or deleted); their ids."""
    return await _revoke_every(
        session, RefreshFamily.client_id == client_id, reason=reason, now=now
    )


async def revoke_for_session(
    session: AsyncSession, session_id: str, *, reason: str, now: datetime
) -> list[str]:
    """End every live family started in a browser session (logout); their ids."""
    return await _revoke_every(
        session, RefreshFamily.session_id == session_id, reason=reason, now=now
    )


async def count_live_for_client(session: AsyncSession, client_id: str, *, now: datetime) -> int:
    """How many of the client's families still work (`live_family`)."""
    query = (
        select(func.count())
        .select_from(RefreshFamily)
        .where(RefreshFamily.client_id == client_id, live_family(now))
    )
    return int(await session.scalar(query) or 0)


async def _revoke_every(
    session: AsyncSession, whose: ColumnElement[bool], *, reason: str, now: datetime
) -> list[str]:
    """End every unrevoked family matching `whose` (the first reason stays); their ids."""
    result = await session.execute(
        update(RefreshFamily)
        .where(whose, RefreshFamily.revoked_at.is_(None))
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
