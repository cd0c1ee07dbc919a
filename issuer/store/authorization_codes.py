"""Verbs on authorization codes (RFC 6749 §4.1.2): store, find, consume once, purge.

A code is known by its SHA-256 digest (hex), never stored in clear. Storing a code and
finding it are one statement each (`Statement`, no ORM session: every login does both).
Consuming is one
compare-and-set (`UPDATE … SET used_at … WHERE used_at IS NULL`) that also records what the
use is about to issue (its refresh family and access-token jti), so that a second use,
however close behind, finds what to revoke.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.database import Database, Statement, string_list
from issuer.store.models import AuthorizationCode, Timestamp, User
from issuer.store.models import BrowserSession as BrowserSessionRow

__all__ = [
    "Exchange",
    "StoredCode",
    "code_digest",
    "consume",
    "find",
    "for_exchange",
    "purge_expired",
    "store",
]


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


# Parameters named unlike any column (an UPDATE would take one named after a column as a SET
# value); a StoredCode's fields are the columns, so a row of FIND is one.
_DIGEST = bindparam("code", type_=String)
STORE = Statement.of(
    insert(AuthorizationCode)
    .values(
        digest=_DIGEST,
        client_id=bindparam("client", type_=String),
        user_id=bindparam("user", type_=String),
        session_id=bindparam("browser_session", type_=String),
        redirect_uri=bindparam("redirect", type_=Text),
        code_challenge=bindparam("challenge", type_=String),
        nonce=bindparam("nonce_value", type_=Text),
        scope=bindparam("granted", type_=Text),
        resource=bindparam("target", type_=Text),
        auth_time=bindparam("authenticated", type_=Timestamp),
        expires_at=bindparam("until", type_=Timestamp),
    )
    .returning(AuthorizationCode.digest)
)
FIND = Statement.of(
    select(*AuthorizationCode.__table__.columns).where(AuthorizationCode.digest == _DIGEST)
)
# What an exchange reads of a code, its user and its browser session: one statement.
FOR_EXCHANGE = Statement.of(
    select(
        *AuthorizationCode.__table__.columns,
        User.email.label("user_email"),
        User.roles.label("user_roles"),
        User.disabled.label("user_disabled"),
        BrowserSessionRow.id.label("session_found"),
        BrowserSessionRow.ended_at.label("session_ended_at"),
    )
    .outerjoin(User, User.id == AuthorizationCode.user_id)
    .outerjoin(BrowserSessionRow, BrowserSessionRow.id == AuthorizationCode.session_id)
    .where(AuthorizationCode.digest == _DIGEST)
)
_NOW = bindparam("now", type_=Timestamp)
CONSUME = Statement.of(
    update(AuthorizationCode)
    .where(
        AuthorizationCode.digest == _DIGEST,
        AuthorizationCode.client_id == bindparam("client", type_=String),
        AuthorizationCode.used_at.is_(None),
        AuthorizationCode.expires_at > _NOW,
    )
    .values(
        used_at=_NOW,
        family_id=bindparam("family", type_=String),
        access_token_jti=bindparam("jti", type_=String),
        access_token_expires_at=bindparam("access_until", type_=Timestamp),
    )
    .returning(AuthorizationCode.digest)
)


async def store(
    database: Database,
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
    """Store a new code: one statement in its own transaction."""
    await database.fetch_one(
        STORE,
        code=digest,
        client=client_id,
        user=user_id,
        browser_session=session_id,
        redirect=redirect_uri,
        challenge=code_challenge,
        nonce_value=nonce,
        granted=scope,
        target=resource,
        authenticated=auth_time,
        until=expires_at,
    )


async def find(database: Database, digest: str) -> StoredCode | None:
    """A code's row by its digest, used or not: one statement in its own transaction."""
    row = await database.fetch_one(FIND, code=digest)
    return None if row is None else StoredCode(**row)


@dataclass(frozen=True, slots=True)
class Exchange:
    """A code as its exchange reads it: the row, the claims of its user and whether that
    user may still log in, and whether the browser session it was issued in has ended."""

    code: StoredCode
    email: str
    roles: tuple[str, ...]
    user_disabled: bool
    session_ended: bool


async def for_exchange(database: Database, digest: str) -> Exchange | None:
    """A code's row with its user and session, by its digest: one statement."""
    row = await database.fetch_one(FOR_EXCHANGE, code=digest)
    if row is None:
        return None
    code = StoredCode(**{name: row[name] for name in StoredCode.__dataclass_fields__})
    return Exchange(
        code=code,
        email=row["user_email"] or "",
        roles=string_list(row["user_roles"] or "[]"),
        user_disabled=row["user_disabled"] is None or bool(row["user_disabled"]),
        session_ended=row["session_found"] is None or row["session_ended_at"] is not None,
    )


async def consume(
    target: Database | AsyncSession,
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
    nothing. One statement: alone (a `Database`: its own transaction) or in the caller's
    transaction (a session that also stores what the use issues)."""
    params = {
        "code": digest,
        "client": client_id,
        "now": now,
        "family": family_id,
        "jti": access_token_jti,
        "access_until": access_token_expires_at,
    }
    if isinstance(target, Database):
        return await target.fetch_one(CONSUME, **params) is not None
    return (await target.execute(CONSUME.clause, params)).first() is not None


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
