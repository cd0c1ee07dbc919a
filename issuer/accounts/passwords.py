"""Argon2id password hashing with OWASP parameters, run off the event loop.

Hashing runs on a pool of its own with one thread per CPU this process may use: Argon2 is
memory-hard (19 MiB per hash), so more hashes at once than cores only thrash the caches and
lower the login rate, and a login burst must not queue the default pool's other work.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["HASHER", "PasswordCheck", "hash_password", "verify_password"]

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID)

# Verified when the e-mail is unknown, so that a miss costs the same time as a hit.
_DUMMY_HASH = HASHER.hash("issuer-dummy-password-for-unknown-users")


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset and cgroup cpusets
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


_POOL = ThreadPoolExecutor(max_workers=_usable_cpus(), thread_name_prefix="argon2")


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
    return await asyncio.get_running_loop().run_in_executor(_POOL, _verify, stored_hash, password)


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_POOL, HASHER.hash, password)
