"""Verbs on browser sessions: the SSO session behind the `issuer_session` cookie.

The cookie value is 256 random bits (base64url); the table knows it only by its SHA-256
digest, so a copy of the table cannot be turned into cookies. A session ends at logout, when
an admin ends the user's sessions or disables the user, or when it expires; `find` answers
None for all of these and for a disabled user.

An authorization in a session reads it (`find`) only when it needs more than a live session
(a prompt, max_age, consent); otherwise storing the code checks it in the same statement
(`live`, `authorization_codes.store`). It may then record that the session was used
(`touch`): one statement (`Statement`, no ORM session), at most once per `TOUCH_INTERVAL`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, and_, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from issuer.store import families
from issuer.store.database import Database, Statement
from issuer.store.models import BrowserSession as BrowserSessionRow
from issuer.store.models import Timestamp, User

__all__ = [
    "MAX_COOKIE_LENGTH",
    "TOUCH_INTERVAL",
    "BrowserSession",
    "end",
    "end_for_user",
    "find",
    "live",
    "purge_expired",
    "reauthenticate",
    "session_id_of",
    "start",
    "touch",
]


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """A live browser session: whose, since when the user authenticated, until when."""

    id: str
    user_id: str
    auth_time: datetime
    expires_at: datetime
    last_seen_at: datetime | None = None  # None: not known (a `touch` then always writes)


# `last_seen_at` says when a session was last used, to a person reading the table; no rule
# reads it. It is written at most this often, so an authorization in a session used within
# the interval costs no UPDATE.
TOUCH_INTERVAL = timedelta(seconds=60)
# A cookie value longer than this is no session's (ours are 43 characters).
MAX_COOKIE_LENGTH = 128


def live(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """A session that still logs its user in: not ended, not expired, its user enabled."""
    user_enabled = (
        exists()
        .where(User.id == BrowserSessionRow.user_id, User.disabled.is_(False))
        .correlate_except(User)
    )
    return and_(
        BrowserSessionRow.ended_at.is_(None), BrowserSessionRow.expires_at > now, user_enabled
    )


# Named unlike any column: an UPDATE would take a parameter named after one as a SET value.
_SESSION = bindparam("session", type_=String)
_NOW = bindparam("now", type_=Timestamp)
LIVE_SESSION = Statement.of(
    select(
        BrowserSessionRow.id,
        BrowserSessionRow.user_id,
        BrowserSessionRow.auth_time,
        BrowserSessionRow.expires_at,
        BrowserSessionRow.last_seen_at,
    ).where(BrowserSessionRow.id == _SESSION, live(_NOW))
)
TOUCH = Statement.of(
    update(BrowserSessionRow)
    .where(BrowserSessionRow.id == _SESSION)
    .values(last_seen_at=_NOW)
    .returning(BrowserSessionRow.id)
)


def session_id_of(cookie_value: str) -> str:
    """What the table knows a cookie by: SHA-256, hex."""
    return hashlib.sha256(cookie_value.encode()).hexdigest()


async def start(
    session: AsyncSession, *, user_id: str, now: datetime, lifetime: int
) -> tuple[str, BrowserSession]:
    """A new session of `user_id`, authenticated `now`, for `lifetime` seconds; the cookie
    value (returned once, never stored) and the session."""
    cookie_value = secrets.token_urlsafe(32)
    row = BrowserSessionRow(
        id=session_id_of(cookie_value),
        user_id=user_id,
        auth_time=now,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime),
        last_seen_at=now,
    )
    session.add(row)
    await session.flush()
    return cookie_value, BrowserSession(
        id=row.id, user_id=user_id, auth_time=now, expires_at=row.expires_at, last_seen_at=now
    )


async def find(database: Database, cookie_value: str, *, now: datetime) -> BrowserSession | None:
    """The live session of a cookie: None when unknown, ended, expired or its user disabled.
    One statement in its own transaction."""
    if not cookie_value or len(cookie_value) > MAX_COOKIE_LENGTH:
        return None
    row = await database.fetch_one(LIVE_SESSION, session=session_id_of(cookie_value), now=now)
    return None if row is None else BrowserSession(**row)


async def reauthenticate(
    session: AsyncSession, session_id: str, *, now: datetime, lifetime: int
) -> BrowserSession | None:
    """The user of a live session authenticated again (prompt=login, max_age): auth_time
    `now` and a new expiry, the same session (its refresh families stay tied to it). None if
    the session ended meanwhile."""
    row = await session.get(BrowserSessionRow, session_id, with_for_update=True)
    if row is None or row.ended_at is not None:
        return None
    row.auth_time = row.last_seen_at = now
    row.expires_at = now + timedelta(seconds=lifetime)
    await session.flush()
    return BrowserSession(
        id=row.id, user_id=row.user_id, auth_time=now, expires_at=row.expires_at, last_seen_at=now
    )


async def touch(database: Database, browser_session: BrowserSession, *, now: datetime) -> None:
    """Record that the session was used (a code was issued in it), unless it was within
    `TOUCH_INTERVAL`: one statement, or none."""
    seen = browser_session.last_seen_at
    if seen is not None and now - seen < TOUCH_INTERVAL:
        return
    await database.fetch_one(TOUCH, session=browser_session.id, now=now)


async def end(session: AsyncSession, session_id: str, *, now: datetime) -> int:
    """End the session (logout) and revoke the refresh families started in it; how many
    families were revoked. Ending an ended session again is not an error."""
    await session.execute(
        update(BrowserSessionRow)
        .where(BrowserSessionRow.id == session_id, BrowserSessionRow.ended_at.is_(None))
        .values(ended_at=now)
    )
    revoked = await families.revoke_for_session(session, session_id, reason="logout", now=now)
    return len(revoked)


async def end_for_user(session: AsyncSession, user_id: str, *, now: datetime) -> int:
    """End every live session of a user (admin: revoke sessions, disable); how many. Their
    refresh families are the caller's (`families.revoke_for_user` ends them all)."""
    result = await session.execute(
        update(BrowserSessionRow)
        .where(
            BrowserSessionRow.user_id == user_id,
            BrowserSessionRow.ended_at.is_(None),
            BrowserSessionRow.expires_at > now,
        )
        .values(ended_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete sessions past their expiry (ended ones too, once expired)."""
    result = await session.execute(
        delete(BrowserSessionRow).where(BrowserSessionRow.expires_at <= now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
