"""Verbs on the clients table (the families a client owns are `families` verbs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import Client

__all__ = [
    "DuplicateClient",
    "add",
    "by_id",
    "change",
    "listing",
    "remove",
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
