"""The key lifecycle in the database: first keys, and loading the ring from its rows.

The states and their moves are `issuer.keyring.states.KeyState` (docs/design.md,
"Signing keys").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.keyring.material import KeyMaterial, decrypt_private_key, encrypt_private_key, generate
from issuer.keyring.ring import KeyRing, RingKey
from issuer.keyring.states import KeyState
from issuer.settings import Settings
from issuer.store import audit, signing_keys
from issuer.store.database import Database
from issuer.store.models import SigningKey

__all__ = ["ensure_initial_keys", "jws_alg_for", "load_ring", "new_key_row"]

log = logging.getLogger("issuer.keyring")


def jws_alg_for(alg: str, settings: Settings) -> str:
    """The header `alg` for our alg family: Ed25519 keys sign as `EdDSA` unless configured."""
    return settings.eddsa_jws_alg if alg == "EdDSA" else alg


def new_key_row(
    alg: str, state: KeyState, *, settings: Settings, kek: bytes, now: datetime
) -> SigningKey:
    material = generate(alg, rsa_bits=settings.rsa_key_size)
    return SigningKey(
        kid=material.kid,
        alg=alg,
        state=state.value,
        public_jwk=material.public_jwk(jws_alg_for(alg, settings)),
        private_blob=encrypt_private_key(material, kek),
        created_at=now,
        published_at=now,
        activated_at=now if state is KeyState.ACTIVE else None,
    )


async def ensure_initial_keys(
    database: Database, *, settings: Settings, kek: bytes, now: datetime, actor: str = "system"
) -> list[str]:
    """Give every configured alg an active and a pre-published next key, if it has none.

    Safe when several processes start at once: the unique partial indexes let one insert
    win; the others see an IntegrityError, roll back and find the winner's keys.
    """
    created: list[str] = []
    for alg in settings.signing_algs:
        try:
            async with database.session() as session:
                states = {
                    KeyState(key.state)
                    for key in await signing_keys.all_keys(session)
                    if key.alg == alg
                }
                for state in (KeyState.ACTIVE, KeyState.NEXT):
                    if state in states:
                        continue
                    row = new_key_row(alg, state, settings=settings, kek=kek, now=now)
                    await signing_keys.add(session, row)
                    audit.record(
                        session,
                        now=now,
                        actor=actor,
                        action=f"key.create.{state}",
                        subject=row.kid,
                        detail={"alg": alg},
                    )
                    created.append(row.kid)
        except IntegrityError:
            log.info("another process created the first %s keys", alg)
    return created


def _ring_key(row: SigningKey, material: KeyMaterial, settings: Settings) -> RingKey:
    return RingKey(
        material=material,
        state=KeyState(row.state),
        jws_alg=str(row.public_jwk.get("alg") or jws_alg_for(row.alg, settings)),
        published_at=row.published_at,
        activated_at=row.activated_at,
        retired_at=row.retired_at,
        unpublish_after=row.unpublish_after,
    )


async def load_ring(
    session: AsyncSession,
    *,
    settings: Settings,
    kek: bytes,
    now: datetime,
    decrypted: Mapping[str, KeyMaterial] | None = None,
) -> tuple[KeyRing, dict[str, KeyMaterial]]:
    """Build the ring from the rows; keys already decrypted (by kid) are not opened again.

    Revoked keys are never decrypted. Returns the ring and the cache for the next load.
    """
    cache = dict(decrypted or {})
    ring_keys: list[RingKey] = []
    for row in await signing_keys.all_keys(session):
        if KeyState(row.state) is KeyState.REVOKED:
            cache.pop(row.kid, None)
            continue
        material = cache.get(row.kid)
        if material is None:
            material = decrypt_private_key(row.kid, row.alg, row.private_blob, kek)
            cache[row.kid] = material
        ring_keys.append(_ring_key(row, material, settings))
    return KeyRing(ring_keys, now=now), cache
