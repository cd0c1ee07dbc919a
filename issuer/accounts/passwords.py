"""Argon2id password hashing with OWASP parameters, run off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["HASHER", "PasswordCheck", "hash_password", "verify_password"]

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID)

# Verified when the e-mail is unknown, so that a miss costs the same time as a hit.
_DUMMY_HASH = HASHER.hash("issuer-dummy-password-for-unknown-users")


class PasswordCheck:
    """The outcome of a verification: whether it matched and whether to rehash."""

    __slots__ = ("needs_rehash", "ok")

    def __init__(self, ok: bool, needs_rehash: bool) -> None:
        self.ok = ok
        self.needs_rehash = needs_rehash


def _verify(stored_hash: str | None, password: str) -> PasswordCheck:
    try:
        HASHER.verify(stored_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(False, False)
    if stored_hash is None:
        return PasswordCheck(False, False)
    return PasswordCheck(True, HASHER.check_needs_rehash(stored_hash))


async def verify_password(stored_hash: str | None, password: str) -> PasswordCheck:
    """Check a password; `None` for an unknown user still pays for one verification."""
    return await asyncio.to_thread(_verify, stored_hash, password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)
