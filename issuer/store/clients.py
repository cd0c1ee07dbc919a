"""Verbs on the clients table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import Client

__all__ = ["DuplicateClient", "add", "by_id", "listing"]


class DuplicateClient(Exception):
    """The client_id is taken."""


async def add(session: AsyncSession, client: Client) -> Client:
    session.add(client)
    try:
        await session.flush()
    except IntegrityError:
        raise DuplicateClient(client.client_id) from None
    return client


async def by_id(session: AsyncSession, client_id: str) -> Client | None:
    return await session.get(Client, client_id)


async def listing(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[Client]:
    query = select(Client).order_by(Client.client_id).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())
