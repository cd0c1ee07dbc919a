"""Creating users: validated e-mail, Argon2id hash, roles."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.accounts.passwords import hash_password
from issuer.store import audit, users
from issuer.store.models import User

__all__ = ["AccountError", "create_user", "normalise_email"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class AccountError(ValueError):
    """Bad input for a user or client; the message is safe to show."""


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise AccountError(f"not an e-mail address: {email!r}")
    return value


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    roles: Sequence[str] = (),
    now: datetime,
    actor: str,
) -> User:
    address = normalise_email(email)
    if not password:
        raise AccountError("the password is empty")
    if len(password) > 1024:
        raise AccountError("the password is longer than 1024 characters")
    for role in roles:
        if not _ROLE.match(role):
            raise AccountError(f"not a role name: {role!r}")
    user = User(
        id=str(uuid.uuid4()),
        email=address,
        password_hash=await hash_password(password),
        roles=sorted(set(roles)),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    try:
        await users.add(session, user)
    except users.DuplicateEmail:
        raise AccountError(f"a user with e-mail {address} already exists") from None
    audit.record(
        session,
        now=now,
        actor=actor,
        action="user.create",
        subject=user.id,
        detail={"email": address, "roles": user.roles},
    )
    return user
