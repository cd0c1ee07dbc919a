"""Verbs on the signing_keys table. States: next, active, retired, revoked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import SigningKey

__all__ = ["add", "all_keys", "by_kid", "set_state"]


async def all_keys(session: AsyncSession) -> list[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
    return list((await session.scalars(query)).all())


async def by_kid(session: AsyncSession, kid: str) -> SigningKey | None:
    return await session.get(SigningKey, kid)


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()


async def set_state(
    session: AsyncSession, kid: str, *, expected: str, state: str, **changes: Any
) -> bool:
    """Compare-and-set a key's state: True only if it was still `expected`."""
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.kid == kid, SigningKey.state == expected)
        .values(state=state, **changes)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
