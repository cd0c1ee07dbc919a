"""Verbs on the signing_keys table. States: next, active, retired, revoked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import Client, SigningKey

__all__ = [
    "add",
    "all_keys",
    "by_kid",
    "delete_unpublished_retired",
    "in_state",
    "longest_client_ttl",
    "set_state",
]


async def all_keys(session: AsyncSession) -> list[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
    return list((await session.scalars(query)).all())


async def by_kid(session: AsyncSession, kid: str) -> SigningKey | None:
    return await session.get(SigningKey, kid)


async def in_state(session: AsyncSession, alg: str, state: str) -> SigningKey | None:
    """The `active` or `next` key of an alg (the unique partial indexes allow one each)."""
    query = select(SigningKey).where(SigningKey.alg == alg, SigningKey.state == state)
    return (await session.scalars(query.limit(1))).first()


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
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def longest_client_ttl(session: AsyncSession) -> int:
    """The longest per-client access-token lifetime override, 0 if none (what a retired key
    signed; refresh tokens are opaque)."""
    return await session.scalar(select(func.max(Client.access_token_ttl))) or 0


async def delete_unpublished_retired(session: AsyncSession, now: datetime) -> list[str]:
    """Delete retired keys whose `unpublish_after` has passed; returns their kids."""
    query = select(SigningKey.kid).where(
        SigningKey.state == "retired", SigningKey.unpublish_after <= now
    )
    kids = list((await session.scalars(query)).all())
    if kids:
        await session.execute(
            delete(SigningKey)
            .where(SigningKey.kid.in_(kids), SigningKey.state == "retired")
            .execution_options(synchronize_session=False)
        )
    return kids
