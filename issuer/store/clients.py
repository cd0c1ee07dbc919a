"""Verbs on the clients table (and on the refresh families a client owns)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.families import live_family
from issuer.store.models import Client, RefreshFamily

__all__ = [
    "DuplicateClient",
    "add",
    "by_id",
    "change",
    "listing",
    "live_families",
    "remove",
    "revoke_families",
]


class DuplicateClient(Exception):
    """The client_id is taken."""


async def add(session: AsyncSession, client: Client) -> Client:
    session.add(client)
    try:
        await session.flush()
    except IntegrityError:
        raise DuplicateClient(client.client_id) from None
    return client


async def by_id(session: AsyncSession, client_id: str, *, lock: bool = False) -> Client | None:
    """The client; with `lock`, held (FOR UPDATE on Postgres) until the transaction ends."""
    return await session.get(Client, client_id, with_for_update=lock or None)


async def listing(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[Client]:
    query = select(Client).order_by(Client.client_id).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def change(session: AsyncSession, client_id: str, **values: Any) -> bool:
    """Set columns of one client; False when there is no such client."""
    result = await session.execute(
        update(Client).where(Client.client_id == client_id).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove(session: AsyncSession, client_id: str) -> bool:
    """Delete the client; its refresh families and their tokens go with it (ON DELETE CASCADE)."""
    result = await session.execute(delete(Client).where(Client.client_id == client_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def live_families(session: AsyncSession, client_id: str, *, now: datetime) -> int:
    """How many of the client's refresh families still work (`families.live_family`)."""
    query = (
        select(func.count())
        .select_from(RefreshFamily)
        .where(RefreshFamily.client_id == client_id, live_family(now))
    )
    return int(await session.scalar(query) or 0)


async def revoke_families(
    session: AsyncSession, client_id: str, *, reason: str, now: datetime
) -> list[str]:
    """End every unrevoked refresh family of the client; their ids."""
    result = await session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.client_id == client_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshFamily.id)
    )
    return [row.id for row in result]
