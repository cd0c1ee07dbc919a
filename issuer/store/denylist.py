"""The access-token deny-list (RFC 7009 §2): revoked jtis, kept until the token expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import RevokedAccessToken

__all__ = ["add", "contains", "purge_expired"]


async def add(session: AsyncSession, jti: str, *, until: datetime, now: datetime) -> None:
    """Deny a jti until `until`; revoking twice is not an error."""
    values = {"jti": jti, "expires_at": until, "revoked_at": now}
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(pg_insert(RevokedAccessToken).values(values).on_conflict_do_nothing())
    else:
        await session.execute(
            sqlite_insert(RevokedAccessToken).values(values).on_conflict_do_nothing()
        )


async def contains(session: AsyncSession, jti: str) -> bool:
    query = select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == jti)
    return (await session.scalar(query)) is not None


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(
        delete(RevokedAccessToken).where(RevokedAccessToken.expires_at <= now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
