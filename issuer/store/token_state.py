"""What the database says about one of our access tokens, in one round trip.

Userinfo, introspection and the admin guard all ask the same four things of every
request's token: is its jti deny-listed, is its refresh family (`sid`) still live (the
rule of `families.live_family`, its user enabled included), who is its subject, and is
its client still registered and enabled (with which scopes). One statement answers all
four (RFC 7009 §2 revocation, RFC 7662 state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, exists, literal_column, select
from sqlalchemy.orm import aliased

from issuer.store.database import Database, Statement, string_list
from issuer.store.families import live_family
from issuer.store.models import Client, RefreshFamily, RevokedAccessToken, Timestamp, User

__all__ = ["AccessTokenState", "SubjectUser", "TokenClient", "access_token_state"]


def _access_token_state() -> Statement:
    anchor = select(literal_column("1").label("one")).subquery("anchor")
    subject = aliased(User, name="u")
    owner = aliased(Client, name="c")
    denied = exists().where(RevokedAccessToken.jti == bindparam("jti", type_=String))
    family_live = exists().where(
        RefreshFamily.id == bindparam("sid", type_=String),
        live_family(bindparam("now", type_=Timestamp)),
    )
    return Statement.of(
        select(
            denied.label("denied"),
            family_live.label("family_live"),
            subject.id.label("user_id"),
            subject.email,
            subject.roles,
            subject.disabled,
            owner.client_id.label("client_id"),
            owner.scopes.label("client_scopes"),
            owner.disabled.label("client_disabled"),
        ).select_from(
            anchor.outerjoin(subject, subject.id == bindparam("sub", type_=String)).outerjoin(
                owner, owner.client_id == bindparam("client_id", type_=String)
            )
        )
    )


ACCESS_TOKEN_STATE = _access_token_state()


@dataclass(frozen=True, slots=True)
class SubjectUser:
    """The user a token's `sub` names, as stored now."""

    id: str
    email: str
    roles: tuple[str, ...]
    disabled: bool


@dataclass(frozen=True, slots=True)
class TokenClient:
    """The client a token's `client_id` names, as stored now."""

    client_id: str
    scopes: tuple[str, ...]
    disabled: bool


@dataclass(frozen=True, slots=True)
class AccessTokenState:
    denied: bool
    family_live: bool
    user: SubjectUser | None
    # None when the client is unknown (deleted), or when no client_id was asked about.
    client: TokenClient | None = None


async def access_token_state(
    database: Database,
    *,
    jti: str,
    sid: str | None,
    sub: str,
    now: datetime,
    client_id: str | None = None,
) -> AccessTokenState:
    row = await database.fetch_one(
        ACCESS_TOKEN_STATE, jti=jti, sid=sid, sub=sub, now=now, client_id=client_id
    )
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
    client = None
    if row["client_id"] is not None:
        client = TokenClient(
            client_id=row["client_id"],
            scopes=string_list(row["client_scopes"]),
            disabled=bool(row["client_disabled"]),
        )
    return AccessTokenState(
        denied=bool(row["denied"]),
        family_live=bool(row["family_live"]),
        user=user,
        client=client,
    )
