"""Verbs on authorization codes (RFC 6749 §4.1.2): store, exchange once, find, purge.

A code is known by its SHA-256 digest (hex), never stored in clear. Storing a code is one
statement that also checks its browser session is live (`INSERT … SELECT` from the session:
nothing is stored for one logged out meanwhile). Exchanging is one compare-and-set
(`UPDATE … SET used_at … WHERE used_at IS NULL` and everything the code is bound to) that
also records what the use is about to issue (its refresh family and access-token jti), so
that a second use, however close behind, finds what to revoke; on Postgres the same
statement starts the refresh family (data-modifying CTEs). When it matches nothing,
`for_exchange` reads the code to say why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ScalarSelect,
    String,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from issuer.store import browser_sessions, families
from issuer.store.browser_sessions import BrowserSession
from issuer.store.database import Database, Statement, string_list
from issuer.store.models import AuthorizationCode, RefreshFamily, Timestamp, User
from issuer.store.models import BrowserSession as BrowserSessionRow

__all__ = [
    "Exchange",
    "Login",
    "StoredCode",
    "code_digest",
    "exchange",
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
_CLIENT = bindparam("client", type_=String)
_REDIRECT = bindparam("redirect", type_=Text)
_CHALLENGE = bindparam("challenge", type_=String)
_NOW = bindparam("now", type_=Timestamp)


# The code's row as a RETURNING subquery names it: spelled out, since SQLAlchemy correlates
# no subquery in an INSERT's RETURNING and drops the table name from them on SQLite.
_CODE_SESSION = literal_column(f"{AuthorizationCode.__tablename__}.session_id", String)
_CODE_USER = literal_column(f"{AuthorizationCode.__tablename__}.user_id", String)


def _of_session(column: InstrumentedAttribute[Any]) -> ScalarSelect[Any]:
    """A column of the code's browser session (RETURNING may name only the table written)."""
    return select(column).where(BrowserSessionRow.id == _CODE_SESSION).scalar_subquery()


def _of_user(column: InstrumentedAttribute[Any]) -> ScalarSelect[Any]:
    """A column of the code's user."""
    return select(column).where(User.id == _CODE_USER).scalar_subquery()


# A new code of a live browser session, for its user and auth_time; what `touch` needs back.
STORE = Statement.of(
    insert(AuthorizationCode)
    .from_select(
        [
            "digest",
            "client_id",
            "user_id",
            "session_id",
            "redirect_uri",
            "code_challenge",
            "nonce",
            "scope",
            "resource",
            "auth_time",
            "expires_at",
        ],
        select(
            _DIGEST,
            _CLIENT,
            BrowserSessionRow.user_id,
            BrowserSessionRow.id,
            _REDIRECT,
            _CHALLENGE,
            bindparam("nonce_value", type_=Text),
            bindparam("granted", type_=Text),
            bindparam("target", type_=Text),
            BrowserSessionRow.auth_time,
            bindparam("until", type_=Timestamp),
        ).where(
            BrowserSessionRow.id == bindparam("browser_session", type_=String),
            browser_sessions.live(_NOW),
        ),
    )
    .returning(
        AuthorizationCode.session_id.label("id"),
        AuthorizationCode.user_id,
        AuthorizationCode.auth_time,
        _of_session(BrowserSessionRow.expires_at).label("expires_at"),
        _of_session(BrowserSessionRow.last_seen_at).label("last_seen_at"),
    )
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
# The audience the token request names (None: it names none), and the client's default.
_TARGET = bindparam("target", type_=Text)
_FAMILY = bindparam("family", type_=String)
# Consume an unused, unexpired code of this client, presented with its redirect_uri and the
# S256 transform of its verifier, within its resource, of an enabled user whose browser
# session has not ended; record what the use issues; return the row and the user's claims.
_CONSUME = (
    update(AuthorizationCode)
    .where(
        AuthorizationCode.digest == _DIGEST,
        AuthorizationCode.client_id == _CLIENT,
        AuthorizationCode.used_at.is_(None),
        AuthorizationCode.expires_at > _NOW,
        AuthorizationCode.redirect_uri == _REDIRECT,
        AuthorizationCode.code_challenge == _CHALLENGE,
        or_(
            _TARGET.is_(None),
            AuthorizationCode.resource.is_(None),
            AuthorizationCode.resource == _TARGET,
        ),
        exists().where(User.id == AuthorizationCode.user_id, User.disabled.is_(False)),
        exists().where(
            BrowserSessionRow.id == AuthorizationCode.session_id,
            BrowserSessionRow.ended_at.is_(None),
        ),
    )
    .values(
        used_at=_NOW,
        family_id=_FAMILY,
        access_token_jti=bindparam("jti", type_=String),
        access_token_expires_at=bindparam("access_until", type_=Timestamp),
    )
    .returning(
        *AuthorizationCode.__table__.columns,
        _of_user(User.email).label("user_email"),
        _of_user(User.roles).label("user_roles"),
    )
)
CONSUME = Statement.of(_CONSUME)


def _consume_and_log_in_on_postgres() -> Statement:
    """CONSUME, and the refresh family it starts (tied to the code's browser session) with
    its first token, in one statement: a code that does not match inserts nothing."""
    consumed = _CONSUME.cte("consumed")
    family = (
        insert(RefreshFamily)
        .from_select(
            [
                "id",
                "user_id",
                "client_id",
                "scope",
                "audience",
                "created_at",
                "expires_at",
                "session_id",
            ],
            select(
                _FAMILY,
                consumed.c.user_id,
                consumed.c.client_id,
                consumed.c.scope,
                func.coalesce(_TARGET, consumed.c.resource, bindparam("fallback", type_=Text)),
                _NOW,
                bindparam("family_until", type_=Timestamp),
                consumed.c.session_id,
            ),
        )
        .returning(RefreshFamily.id, RefreshFamily.scope)
        .cte("family")
    )
    until = bindparam("refresh_until", type_=Timestamp)
    token = families.first_token(family.c.id, family.c.scope, until).cte("token")
    return Statement.of(select(consumed).add_cte(token))


CONSUME_AND_LOG_IN = _consume_and_log_in_on_postgres()


async def store(
    database: Database,
    *,
    digest: str,
    client_id: str,
    session_id: str,
    redirect_uri: str,
    code_challenge: str,
    nonce: str | None,
    scope: str,
    resource: str | None,
    now: datetime,
    expires_at: datetime,
) -> BrowserSession | None:
    """Store a new code of the browser session `session_id` (its user, its auth_time) if the
    session is live `now`: one statement in its own transaction. The session, or None (then
    nothing was stored)."""
    row = await database.fetch_one(
        STORE,
        code=digest,
        client=client_id,
        browser_session=session_id,
        redirect=redirect_uri,
        challenge=code_challenge,
        nonce_value=nonce,
        granted=scope,
        target=resource,
        now=now,
        until=expires_at,
    )
    return None if row is None else BrowserSession(**row)


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
    user_disabled: bool = False
    session_ended: bool = False


def _code_of(row: Mapping[str, Any]) -> StoredCode:
    return StoredCode(**{name: row[name] for name in StoredCode.__dataclass_fields__})


async def for_exchange(database: Database, digest: str) -> Exchange | None:
    """A code's row with its user and session, by its digest: one statement."""
    row = await database.fetch_one(FOR_EXCHANGE, code=digest)
    if row is None:
        return None
    return Exchange(
        code=_code_of(row),
        email=row["user_email"] or "",
        roles=string_list(row["user_roles"] or "[]"),
        user_disabled=row["user_disabled"] is None or bool(row["user_disabled"]),
        session_ended=row["session_found"] is None or row["session_ended_at"] is not None,
    )


@dataclass(frozen=True, slots=True)
class Login:
    """The refresh family a code's exchange starts, and its first token (by its digest)."""

    family_id: str
    family_expires_at: datetime
    jti: str
    expires_at: datetime


async def exchange(
    database: Database,
    digest: str,
    *,
    client_id: str,
    redirect_uri: str,
    code_challenge: str,
    target: str | None,
    fallback_audience: str,
    now: datetime,
    access_token_jti: str,
    access_token_expires_at: datetime,
    login: Login | None,
) -> Exchange | None:
    """Consume the code if everything it is bound to matches: `client_id`, unused and
    unexpired `now`, `redirect_uri`, `code_challenge` (the verifier's S256 transform),
    `target` within its resource (None: the request names no audience), its user enabled
    and its browser session not ended. Record what this use issues, and start `login`'s
    family (audience `target`, else the code's resource, else `fallback_audience`) in the
    same transaction. None if nothing matched: nothing changed, `for_exchange` says why.

    Of two concurrent exchanges exactly one wins: the loser's UPDATE waits for the winner's
    commit, then matches nothing. On Postgres one statement; on SQLite (no data-modifying
    CTEs) the UPDATE, then the family's INSERTs, in one transaction.
    """
    params: dict[str, Any] = {
        "code": digest,
        "client": client_id,
        "now": now,
        "redirect": redirect_uri,
        "challenge": code_challenge,
        "target": target,
        "family": None if login is None else login.family_id,
        "jti": access_token_jti,
        "access_until": access_token_expires_at,
    }
    if login is None:
        row = await database.fetch_one(CONSUME, **params)
    elif database.is_postgres:
        row = await database.fetch_one(
            CONSUME_AND_LOG_IN,
            fallback=fallback_audience,
            family_until=login.family_expires_at,
            first=login.jti,
            refresh_until=login.expires_at,
            **params,
        )
    else:
        async with database.session() as session:
            found = (await session.execute(_CONSUME, params)).mappings().first()
            row = None if found is None else dict(found)
            if row is not None:
                await families.add_login(
                    session,
                    family_id=login.family_id,
                    user_id=row["user_id"],
                    client_id=client_id,
                    scope=row["scope"],
                    audience=target or row["resource"] or fallback_audience,
                    now=now,
                    family_expires_at=login.family_expires_at,
                    jti=login.jti,
                    expires_at=login.expires_at,
                    session_id=row["session_id"],
                )
    if row is None:
        return None
    return Exchange(
        code=_code_of(row), email=row["user_email"] or "", roles=string_list(row["user_roles"])
    )


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
