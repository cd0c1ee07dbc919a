"""Verbs on consents: the scopes a user granted a client, asked once per new scope."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import Consent

__all__ = ["granted", "remember", "revoke"]


async def granted(session: AsyncSession, user_id: str, client_id: str) -> frozenset[str]:
    """The scopes the user has granted the client (none: the empty set)."""
    scope = await session.scalar(
        select(Consent.scope).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )
    return frozenset((scope or "").split())


async def remember(
    session: AsyncSession,
    user_id: str,
    client_id: str,
    scopes: Iterable[str],
    *,
    now: datetime,
) -> frozenset[str]:
    """Add `scopes` to what the user granted the client; everything granted now."""
    # The row first (two first consents at once must not collide), then a locked merge.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Consent)
        .values(user_id=user_id, client_id=client_id, scope="", granted_at=now)
        .on_conflict_do_nothing()
    )
    row = await session.get(Consent, (user_id, client_id), with_for_update=True)
    assert row is not None  # inserted or already there, in this transaction
    every = frozenset(row.scope.split()) | frozenset(scopes)
    row.scope, row.granted_at = " ".join(sorted(every)), now
    await session.flush()
    return every


async def revoke(session: AsyncSession, user_id: str, client_id: str | None = None) -> int:
    """Forget the user's consents (to one client, or to all); how many were forgotten."""
    query = delete(Consent).where(Consent.user_id == user_id)
    if client_id is not None:
        query = query.where(Consent.client_id == client_id)
    result = await session.execute(query)
    return int(result.rowcount)  # type: ignore[attr-defined]
