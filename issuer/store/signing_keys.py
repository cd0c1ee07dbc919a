"""Verbs on the signing_keys table; states are `issuer.keyring.states.KeyState`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.keyring.states import BORN_AS, IllegalTransition, KeyState
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


async def in_state(session: AsyncSession, alg: str, state: KeyState) -> SigningKey | None:
    """The `active` or `next` key of an alg (the unique partial indexes allow one each)."""
    query = select(SigningKey).where(SigningKey.alg == alg, SigningKey.state == state.value)
    return (await session.scalars(query.limit(1))).first()


async def add(session: AsyncSession, key: SigningKey) -> None:
    if KeyState(key.state) not in BORN_AS:
        raise ValueError(f"a key is born {' or '.join(BORN_AS)}, not {key.state}")
    session.add(key)
    await session.flush()


async def set_state(
    session: AsyncSession, kid: str, *, expected: KeyState, state: KeyState, **changes: Any
) -> bool:
    """Compare-and-set a key's state: True only if it was still `expected`.

    Raises `IllegalTransition` for a move `KeyState`'s table does not allow.
    """
    if not expected.can_become(state):
        raise IllegalTransition(expected, state)
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.kid == kid, SigningKey.state == expected.value)
        .values(state=state.value, **changes)
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
        SigningKey.state == KeyState.RETIRED.value, SigningKey.unpublish_after <= now
    )
    kids = list((await session.scalars(query)).all())
    if kids:
        await session.execute(
            delete(SigningKey)
            .where(SigningKey.kid.in_(kids), SigningKey.state == KeyState.RETIRED.value)
            .execution_options(synchronize_session=False)
        )
    return kids
