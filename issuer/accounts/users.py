"""Users: creating them (validated e-mail, Argon2id hash, roles), disabling and enabling
them, ending their sessions. The CLI and the admin API both call these steps."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.accounts.passwords import hash_password
from issuer.metrics import REVOCATIONS
from issuer.store import audit, browser_sessions, consents, families, users
from issuer.store.database import Database
from issuer.store.models import User

__all__ = [
    "ADMIN_ROLE",
    "USER_ID_PREFIX",
    "AccountError",
    "AccountExists",
    "LastAdmin",
    "SessionsEnded",
    "UnknownAccount",
    "check_password",
    "count_revoked_families",
    "create_user",
    "disable_user",
    "enable_user",
    "find_user_id",
    "normalise_email",
    "revoke_consents",
    "revoke_sessions",
]

# A user's id, the `sub` of their tokens, is "u-" and 32 hex digits (a random UUID). No
# client id may start with the prefix, nor look like the plain UUIDs of older users, so a
# client's own token can never carry a user's `sub` (RFC 9700 §4.15).
USER_ID_PREFIX = "u-"

# No white space, no control character (a NUL cannot even be stored by Postgres).
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
_ROLE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
ADMIN_ROLE = "admin"

# NIST SP 800-63B §5.1.1.2: at least 8 characters, at least 64 allowed, no composition
# rules. The maximum only bounds the Argon2 input.
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024


class AccountError(ValueError):
    """Bad input for a user or client; the message is safe to show."""


class AccountExists(AccountError):
    """The e-mail or client id is taken."""


class LastAdmin(AccountError):
    """The change would leave no enabled user with the admin role."""


class UnknownAccount(LookupError):
    """No user (or client) with that id; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class SessionsEnded:
    """A user after a change, how many of their refresh families it ended, and how many
    browser (SSO) sessions."""

    user: User
    sessions_revoked: int
    browser_sessions_ended: int = 0


def new_user_id() -> str:
    return USER_ID_PREFIX + uuid.uuid4().hex


def check_password(password: str) -> str:
    """A password as NIST SP 800-63B wants it: length only (Unicode characters)."""
    if not password:
        raise AccountError("the password is empty")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"the password is longer than {MAX_PASSWORD_CHARS} characters")
    return password


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 320 or not _EMAIL.fullmatch(value):
        raise AccountError(f"not an e-mail address: {email!r}")
    return value


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    roles: Sequence[str] = (),
    now: datetime,
    actor: str,
) -> User:
    address = normalise_email(email)
    check_password(password)
    for role in roles:
        if not _ROLE.fullmatch(role):
            raise AccountError(f"not a role name: {role!r}")
    if await users.by_email(session, address) is not None:
        # Checked before hashing; the unique index still decides a race (below).
        raise AccountExists(f"a user with e-mail {address} already exists")
    user = User(
        id=new_user_id(),
        email=address,
        password_hash=await hash_password(password),
        roles=sorted(set(roles)),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    try:
        await users.add(session, user)
    except users.DuplicateEmail:
        raise AccountExists(f"a user with e-mail {address} already exists") from None
    audit.record(
        session,
        now=now,
        actor=actor,
        action="user.create",
        subject=user.id,
        detail={"email": address, "roles": user.roles},
    )
    return user


async def find_user_id(database: Database, user: str) -> str:
    """The id of the user named by `user`: an e-mail address (any case) or a user id."""
    async with database.session() as session:
        row = (
            await users.by_email(session, normalise_email(user))
            if "@" in user
            else await users.by_id(session, user)
        )
    if row is None:
        raise UnknownAccount(f"no such user: {user}")
    return row.id


async def disable_user(
    database: Database, user_id: str, *, now: datetime, actor: str
) -> SessionsEnded:
    """Refuse the user's logins and end every refresh family (reason `user_disabled`)."""
    async with database.session() as session:
        await _keep_an_admin(session, user_id)
        if not await users.set_disabled(session, user_id, True):
            raise UnknownAccount("no such user")
        ended = await families.revoke_for_user(session, user_id, reason="user_disabled", now=now)
        browsers = await browser_sessions.end_for_user(session, user_id, now=now)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="user.disable",
            subject=user_id,
            detail={"families_revoked": len(ended), "browser_sessions_ended": browsers},
        )
        user = await _reload(session, user_id)
    count_revoked_families(len(ended))
    return SessionsEnded(user=user, sessions_revoked=len(ended), browser_sessions_ended=browsers)


async def enable_user(database: Database, user_id: str, *, now: datetime, actor: str) -> User:
    """Accept the user's logins again (their ended sessions stay ended)."""
    async with database.session() as session:
        if not await users.set_disabled(session, user_id, False):
            raise UnknownAccount("no such user")
        audit.record(session, now=now, actor=actor, action="user.enable", subject=user_id)
        return await _reload(session, user_id)


async def revoke_sessions(
    database: Database, user_id: str, *, now: datetime, actor: str
) -> SessionsEnded:
    """Logout everywhere: end every refresh family of the user (reason `logout_all`) and
    every browser session (the next authorization asks for a login)."""
    async with database.session() as session:
        user = await users.by_id(session, user_id)
        if user is None:
            raise UnknownAccount("no such user")
        ended = await families.revoke_for_user(session, user_id, reason="logout_all", now=now)
        browsers = await browser_sessions.end_for_user(session, user_id, now=now)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="user.revoke_sessions",
            subject=user_id,
            detail={"families_revoked": len(ended), "browser_sessions_ended": browsers},
        )
    count_revoked_families(len(ended))
    return SessionsEnded(user=user, sessions_revoked=len(ended), browser_sessions_ended=browsers)


async def revoke_consents(
    database: Database, user_id: str, *, client_id: str | None = None, now: datetime, actor: str
) -> int:
    """Forget what the user consented to (for one client, or all): the consent page asks
    again. How many clients' consents were forgotten. Issued tokens are not touched."""
    async with database.session() as session:
        if await users.by_id(session, user_id) is None:
            raise UnknownAccount("no such user")
        forgotten = await consents.revoke(session, user_id, client_id)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="user.revoke_consents",
            subject=user_id,
            detail={"client_id": client_id, "consents_revoked": forgotten},
        )
    return forgotten


async def _keep_an_admin(session: AsyncSession, user_id: str) -> None:
    """Refuse to take away the last enabled admin (nobody could use the admin API after)."""
    user = await users.by_id(session, user_id)
    if user is None or user.disabled or ADMIN_ROLE not in user.roles:
        return
    if await users.enabled_holders(session, ADMIN_ROLE) == [user_id]:
        raise LastAdmin(
            "this is the last enabled user with the admin role; give another user the role first"
        )


async def _reload(session: AsyncSession, user_id: str) -> User:
    user = await users.by_id(session, user_id)
    assert user is not None  # changed in this very transaction
    return user


def count_revoked_families(families_ended: int) -> None:
    """Counted once the transaction has committed, never for a rolled-back one."""
    if families_ended:
        REVOCATIONS.labels(kind="family").inc(families_ended)
