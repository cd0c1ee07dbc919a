"""Registering clients: grant types, scopes, audiences, alg; a secret shown once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.accounts.secrets import generate_secret, secret_digest
from issuer.accounts.users import AccountError, AccountExists
from issuer.jose.algs import SIGNING_ALGS
from issuer.oauth.grants import GRANT_TYPES
from issuer.store import audit, clients
from issuer.store.models import Client

__all__ = ["NewClient", "create_client"]

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")


@dataclass(frozen=True, slots=True)
class NewClient:
    """A just-registered client and its secret, which is never stored or shown again."""

    client: Client
    secret: str | None


def _check_audience(audience: str) -> str:
    if not audience or len(audience) > 512 or any(c.isspace() for c in audience):
        raise AccountError(f"not an audience: {audience!r}")
    return audience


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
    introspect_any: bool = False,
    now: datetime,
    actor: str,
) -> NewClient:
    if not _CLIENT_ID.match(client_id):
        raise AccountError(f"not a client id (letters, digits, _.:- up to 128): {client_id!r}")
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
        if not _SCOPE.match(scope):
            raise AccountError(f"not a scope token: {scope!r}")
    if alg is not None and alg not in SIGNING_ALGS:
        raise AccountError(f"alg must be {' or '.join(SIGNING_ALGS)}, got {alg!r}")
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
        introspect_any=introspect_any,
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
        detail={
            "grant_types": chosen,
            "public": public,
            "audiences": targets,
            "introspect_any": introspect_any,
        },
    )
    return NewClient(client=client, secret=secret)
