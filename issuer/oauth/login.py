"""Checking a user's credentials: the one way the password grant and the hosted login page
log a user in, with the same throttle and the same cost for an unknown e-mail.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from issuer.accounts.passwords import hash_password, verify_password
from issuer.accounts.users import MAX_PASSWORD_CHARS
from issuer.errors import InvalidGrant, InvalidRequest, SlowDown
from issuer.oauth.login_audit import login_failed
from issuer.store import users

if TYPE_CHECKING:
    from issuer.oauth.server import AuthorizationServer

__all__ = ["authenticate_user"]


async def authenticate_user(
    server: AuthorizationServer,
    email: str,
    password: str,
    *,
    client_id: str,
    address: str,
    now: datetime,
) -> users.LoginUser:
    """The user if the password matches; throttled per account and per address.

    Raises `InvalidGrant` (one answer for an unknown e-mail, a wrong password and a disabled
    user), `SlowDown` past the throttle's limits, `InvalidRequest` for an oversized password.
    """
    email = email.strip().lower()  # e-mail addresses are stored and compared in lower case
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidRequest("the password is too long")
    throttle = server.throttle
    failed = partial(
        login_failed, server.database, username=email, client_id=client_id, address=address, now=now
    )
    # Reserve the attempt before the password is checked: concurrent guesses must not
    # all pass a check that only the failures recorded after them could fail.
    reservation = await throttle.reserve(email, address, now=now)
    if reservation.retry_after is not None:
        await failed(reason="throttled", user_id=None)
        raise SlowDown(
            "too many failed logins; try again later", retry_after=reservation.retry_after
        )
    try:
        user = await users.login_user(server.database, email)
        # An unknown e-mail still pays for one Argon2 verification (against a dummy hash).
        check = await verify_password(user.password_hash if user else None, password)
    except Exception:
        await throttle.failed(reservation)  # no verdict, but no attempt taken back either
        raise
    if user is None or not check.ok:
        await throttle.failed(reservation)
        # One metric label for both: a metric must not tell which accounts exist.
        await failed(reason="invalid_credentials", user_id=user.id if user else None)
        raise InvalidGrant("invalid username or password")
    await throttle.succeeded(reservation)
    if user.disabled:
        await failed(reason="disabled", user_id=user.id)
        # The same answer as a wrong password: it must not confirm the password was right.
        raise InvalidGrant("invalid username or password", debug="the user is disabled")
    if check.needs_rehash:
        new_hash = await hash_password(password)
        async with server.database.session() as session:
            await users.set_hash(session, user.id, new_hash)
    return user
