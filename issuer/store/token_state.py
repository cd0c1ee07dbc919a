"""What the database says about one of our access tokens, in one round trip.

Userinfo, introspection and the admin guard all ask the same three things of every
request's token: is its jti deny-listed, is its refresh family (`sid`) still live, and who
is its subject. One statement answers all three (RFC 7009 §2 revocation, RFC 7662 state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from issuer.store.database import Database, Statement, string_list

__all__ = ["AccessTokenState", "SubjectUser", "access_token_state"]

ACCESS_TOKEN_STATE = Statement(
    """
    SELECT
        EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = :jti) AS denied,
        EXISTS (
            SELECT 1 FROM refresh_families
            WHERE id = :sid AND revoked_at IS NULL AND expires_at > :now
        ) AS family_live,
        u.id AS user_id, u.email, u.roles, u.disabled
    FROM (SELECT 1 AS one) AS anchor
    LEFT JOIN users AS u ON u.id = :sub
    """,
    timestamps=frozenset({"now"}),
)


@dataclass(frozen=True, slots=True)
class SubjectUser:
    """The user a token's `sub` names, as stored now."""

    id: str
    email: str
    roles: tuple[str, ...]
    disabled: bool


@dataclass(frozen=True, slots=True)
class AccessTokenState:
    denied: bool
    family_live: bool
    user: SubjectUser | None


async def access_token_state(
    database: Database, *, jti: str, sid: str | None, sub: str, now: datetime
) -> AccessTokenState:
    row = await database.fetch_one(ACCESS_TOKEN_STATE, jti=jti, sid=sid, sub=sub, now=now)
    if row is None:  # pragma: no cover - the anchor row always exists
        raise RuntimeError("the access-token state query returned no row")
    user = None
    if row["user_id"] is not None:
        user = SubjectUser(
            id=row["user_id"],
            email=row["email"],
            roles=string_list(row["roles"]),
            disabled=bool(row["disabled"]),
        )
    return AccessTokenState(
        denied=bool(row["denied"]), family_live=bool(row["family_live"]), user=user
    )
