"""Verbs on the users table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, cast, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.database import Database, Statement, string_list
from issuer.store.models import User

__all__ = [
    "DuplicateEmail",
    "LoginUser",
    "add",
    "by_email",
    "by_id",
    "enabled_holders",
    "listing",
    "login_user",
    "set_disabled",
    "set_hash",
]


class DuplicateEmail(Exception):
    """The (lower-cased) e-mail is taken."""


async def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise DuplicateEmail(user.email) from None
    return user


async def by_email(session: AsyncSession, email: str) -> User | None:
    result: User | None = await session.scalar(select(User).where(User.email == email.lower()))
    return result


@dataclass(frozen=True, slots=True)
class LoginUser:
    """What a login needs of a user row."""

    id: str
    password_hash: str
    roles: tuple[str, ...]
    disabled: bool


LOGIN_USER = Statement(
    "SELECT id, password_hash, roles, disabled FROM users WHERE email = :email",
)


async def login_user(database: Database, email: str) -> LoginUser | None:
    """The user with this e-mail (lower-cased), in one round trip."""
    row = await database.fetch_one(LOGIN_USER, email=email.lower())
    if row is None:
        return None
    return LoginUser(
        id=row["id"],
        password_hash=row["password_hash"],
        roles=string_list(row["roles"]),
        disabled=bool(row["disabled"]),
    )


async def by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def listing(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[User]:
    query = select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def set_disabled(session: AsyncSession, user_id: str, disabled: bool) -> bool:
    result = await session.execute(update(User).where(User.id == user_id).values(disabled=disabled))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_hash(session: AsyncSession, user_id: str, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def enabled_holders(session: AsyncSession, role: str) -> list[str]:
    """The ids of enabled users with `role`, locked (Postgres `FOR UPDATE`) until the
    transaction ends, so that two transactions cannot each remove a different last holder.
    SQLite serialises writing transactions anyway."""
    # JSON containment differs per database: a textual pre-filter, then the exact check.
    query = (
        select(User.id, User.roles)
        .where(User.disabled.is_(False), cast(User.roles, String).like(f'%"{role}"%'))
        .order_by(User.id)
        .with_for_update()
    )
    rows = (await session.execute(query)).all()
    return [row.id for row in rows if role in (row.roles or [])]
