"""Verbs on the users table."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import User

__all__ = ["DuplicateEmail", "add", "by_email", "by_id", "listing", "set_disabled", "set_hash"]


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
