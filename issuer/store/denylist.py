"""The access-token deny-list (RFC 7009 §2): revoked jtis, kept until after the token expires.

A row outlives its token by `RETAIN_PAST_EXPIRY`, longer than any leeway on `exp` anywhere
(the issuer's own checks allow none; `issuer.verify.Verifier` allows 10 s by default): a
revoked token must never be accepted again because its row was purged inside a leeway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.store.models import RevokedAccessToken

__all__ = ["RETAIN_PAST_EXPIRY", "add", "contains", "purge_expired"]

RETAIN_PAST_EXPIRY = timedelta(minutes=1)


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
    """Delete the rows of tokens expired for longer than `RETAIN_PAST_EXPIRY`."""
    cutoff = now - RETAIN_PAST_EXPIRY
    result = await session.execute(
        delete(RevokedAccessToken).where(RevokedAccessToken.expires_at <= cutoff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
