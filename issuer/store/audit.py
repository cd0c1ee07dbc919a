"""The audit log: written in the caller's transaction, so an event exists iff its change does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import AuditEvent

__all__ = ["recent", "record"]


def record(
    session: AsyncSession,
    *,
    now: datetime,
    actor: str,
    action: str,
    subject: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(at=now, actor=actor, action=action, subject=subject, detail=detail or {})
    )


async def recent(
    session: AsyncSession, *, limit: int = 100, action: str | None = None
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list((await session.scalars(query)).all())
