"""Registering clients: grant types, scopes, audiences, alg; a secret shown once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.accounts.secrets import generate_secret, secret_digest
from issuer.accounts.users import USER_ID_PREFIX, AccountError, AccountExists
from issuer.oauth.grants import GRANT_TYPES
from issuer.oauth.grants.base import ADMIN_SCOPE
from issuer.store import audit, clients
from issuer.store.models import Client

__all__ = ["NewClient", "create_client"]

SIGNING_ALGS = ("RS256", "EdDSA")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# The shape of user ids (`users.new_user_id`) and of the plain UUIDs older users have.
_USER_ID_SHAPE = re.compile(
    rf"^(?:{re.escape(USER_ID_PREFIX)}.*|[0-9a-f]{{8}}(?:-?[0-9a-f]{{4}}){{3}}-?[0-9a-f]{{12}})$",
    re.IGNORECASE,
)
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
# Grants whose tokens speak for a user: such a client must never hold the admin scope.
USER_FACING_GRANTS = ("password", "refresh_token", "authorization_code")


@dataclass(frozen=True, slots=True)
class NewClient:
    """A just-registered client and its secret, which is never stored or shown again."""

    client: Client
    secret: str | None


def _check_audience(audience: str) -> str:
    if not audience or len(audience) > 512 or not audience.isprintable() or " " in audience:
        raise AccountError(f"not an audience: {audience!r}")
    return audience


def _refuse_admin_scope_for_users(
    scopes: Sequence[str], grant_types: Sequence[str], public: bool
) -> None:
    """The admin scope is for a confidential client's own (client_credentials) tokens only."""
    if ADMIN_SCOPE not in scopes:
        return
    facing = [grant for grant in grant_types if grant in USER_FACING_GRANTS]
    if public or facing:
        why = "a public client" if public else f"a client with grant {', '.join(facing)}"
        raise AccountError(
            f"{why} cannot have scope {ADMIN_SCOPE}: it is only for client_credentials "
            "clients; give users the admin role instead"
        )


async def create_client(
    session: AsyncSession,
    *,
    client_id: str,
    grant_types: Sequence[str],
    scopes: Sequence[str],
    audiences: Sequence[str],
    default_audience: str,
    public: bool = False,
    alg: str | None = None,
    access_token_ttl: int | None = None,
    refresh_token_ttl: int | None = None,
    now: datetime,
    actor: str,
) -> NewClient:
    if not _CLIENT_ID.fullmatch(client_id):
        raise AccountError(f"not a client id (letters, digits, _.:- up to 128): {client_id!r}")
    if _USER_ID_SHAPE.match(client_id):
        # RFC 9700 §4.15: a client's own tokens must never carry a user's `sub`.
        raise AccountError(
            f"a client id may not start with {USER_ID_PREFIX!r} nor be a UUID (user ids "
            f"look like that): {client_id!r}"
        )
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise AccountError(f"unknown grant type {grant!r} (one of {', '.join(GRANT_TYPES)})")
    chosen = list(dict.fromkeys(grant_types)) or (
        ["refresh_token"] if public else ["client_credentials"]
    )
    if public and "client_credentials" in chosen:
        # RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
        raise AccountError("a public client cannot use client_credentials")
    if public and "password" in chosen:
        # RFC 9700 §2.4: the password grant is kept only for first-party confidential clients.
        raise AccountError("a public client cannot use the password grant")
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise AccountError(f"not a scope token: {scope!r}")
    _refuse_admin_scope_for_users(scopes, chosen, public)
    if alg is not None and alg not in SIGNING_ALGS:
        raise AccountError(f"alg must be RS256 or EdDSA, got {alg!r}")
    for ttl in (access_token_ttl, refresh_token_ttl):
        if ttl is not None and ttl < 1:
            raise AccountError("token lifetimes must be positive")
    targets = [_check_audience(a) for a in dict.fromkeys(audiences)] or [default_audience]
    secret = None if public else generate_secret()
    client = Client(
        client_id=client_id,
        secret_digest=None if secret is None else secret_digest(secret),
        public=public,
        grant_types=chosen,
        scopes=list(dict.fromkeys(scopes)),
        audiences=targets,
        alg=alg,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        disabled=False,
        created_at=now,
    )
    try:
        await clients.add(session, client)
    except clients.DuplicateClient:
        raise AccountExists(f"a client with id {client_id} already exists") from None
    audit.record(
        session,
        now=now,
        actor=actor,
        action="client.create",
        subject=client_id,
        detail={"grant_types": chosen, "public": public, "audiences": targets},
    )
    return NewClient(client=client, secret=secret)
