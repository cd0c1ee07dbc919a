"""Clients: registering (a secret shown once), changing, disabling, enabling, rotating the
secret, deleting. The CLI and the admin API both call these steps.

A disabled client authenticates nowhere, its refresh families are revoked, and its access
tokens are refused at introspection, userinfo and the admin API (the access-token state
query joins the client). A running issuer's client cache forgets a client its own admin
API changed at once; other processes see the change within `CLIENT_CACHE_SECONDS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from issuer.accounts.secrets import generate_secret, secret_digest
from issuer.accounts.users import (
    USER_ID_PREFIX,
    AccountError,
    AccountExists,
    UnknownAccount,
    count_revoked_families,
)
from issuer.jose.algs import SIGNING_ALGS
from issuer.oauth.grants import GRANT_TYPES
from issuer.oauth.grants.base import ADMIN_SCOPE
from issuer.oauth.id_tokens import DEFAULT_ID_TOKEN_ALG
from issuer.settings import is_loopback
from issuer.store import audit, clients, families
from issuer.store.database import Database
from issuer.store.models import Client

__all__ = [
    "CHANGEABLE",
    "LOGIN_GRANTS",
    "ClientDisabled",
    "ClientInUse",
    "NewClient",
    "NewSecret",
    "check_redirect_uri",
    "create_client",
    "delete_client",
    "disable_client",
    "enable_client",
    "get_client",
    "rotate_secret",
    "update_client",
]

# What `update_client` may change; `public` may not (a secret would appear or vanish).
CHANGEABLE = (
    "grant_types",
    "scopes",
    "audiences",
    "alg",
    "access_token_ttl",
    "refresh_token_ttl",
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "consent_required",
    "id_token_alg",
)
# What a client may do when no grant type is given: a public client (or one registered with
# a redirect URI) logs users in; any other one gets tokens for itself.
LOGIN_GRANTS = ["authorization_code", "refresh_token"]

_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# The shape of user ids (`users.new_user_id`) and of the plain UUIDs older users have.
_USER_ID_SHAPE = re.compile(
    rf"^(?:{re.escape(USER_ID_PREFIX)}.*|[0-9a-f]{{8}}(?:-?[0-9a-f]{{4}}){{3}}-?[0-9a-f]{{12}})$",
    re.IGNORECASE,
)
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_INT32_MAX = 2**31 - 1  # the lifetimes' column type on both databases
# Grants whose tokens speak for a user: such a client must never hold the admin scope.
USER_FACING_GRANTS = ("password", "refresh_token", "authorization_code")


class ClientInUse(AccountError):
    """The client still has live refresh families (delete without force)."""


@dataclass(frozen=True, slots=True)
class ClientDisabled:
    """A client after `disable_client`, and how many refresh families it ended."""

    client: Client
    sessions_revoked: int


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A rotated client's new secret (shown once) and until when the old one still works."""

    client: Client
    secret: str
    previous_valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class NewClient:
    """A just-registered client and its secret, which is never stored or shown again."""

    client: Client
    secret: str | None


def check_redirect_uri(uri: str) -> str:
    """A redirect (or post-logout redirect) URI a client may register: `https`, `http` on a
    loopback host (RFC 8252 §7.3), or a private-use scheme with a dot (RFC 8252 §7.1); no
    fragment (RFC 6749 §3.1.2). Compared later as an exact string."""
    if not uri or len(uri) > 2048 or not uri.isprintable() or any(c.isspace() for c in uri):
        raise AccountError(f"not a redirect URI: {uri!r}")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:  # a malformed IPv6 literal, say
        raise AccountError(f"not a redirect URI: {uri!r}") from None
    if "#" in uri:
        raise AccountError(f"a redirect URI must not have a fragment: {uri!r}")
    scheme = parts.scheme.lower()
    if scheme == "https" and host:
        return uri
    if scheme == "http" and host and is_loopback(host):
        return uri
    if "." in scheme and scheme not in ("http", "https"):
        return uri  # com.example.app:/callback
    raise AccountError(
        f"a redirect URI must be https, http on a loopback host, or a private-use scheme "
        f"(com.example.app:/path): {uri!r}"
    )


def _check_name(name: str | None) -> None:
    if name is not None and (not name.strip() or len(name) > 200 or not name.isprintable()):
        raise AccountError("a client name must be 1 to 200 printable characters")


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


def _check_settings(
    *,
    grant_types: Sequence[str],
    scopes: Sequence[str],
    audiences: Sequence[str],
    public: bool,
    alg: str | None,
    access_token_ttl: int | None,
    refresh_token_ttl: int | None,
    name: str | None = None,
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    consent_required: bool = False,
    id_token_alg: str = DEFAULT_ID_TOKEN_ALG,
) -> None:
    """The rules every client's settings follow, at registration and at every change."""
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise AccountError(f"unknown grant type {grant!r} (one of {', '.join(GRANT_TYPES)})")
    if public and "client_credentials" in grant_types:
        # RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
        raise AccountError("a public client cannot use client_credentials")
    if public and "password" in grant_types:
        # RFC 9700 §2.4: the password grant is kept only for first-party confidential clients.
        raise AccountError("a public client cannot use the password grant")
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise AccountError(f"not a scope token: {scope!r}")
    _refuse_admin_scope_for_users(scopes, grant_types, public)
    if alg is not None and alg not in SIGNING_ALGS:
        raise AccountError(f"alg must be {' or '.join(SIGNING_ALGS)}, got {alg!r}")
    for ttl in (access_token_ttl, refresh_token_ttl):
        if ttl is not None and not 1 <= ttl <= _INT32_MAX:
            raise AccountError(f"token lifetimes must be between 1 and {_INT32_MAX} seconds")
    for audience in audiences:
        _check_audience(audience)
    if id_token_alg not in SIGNING_ALGS:
        raise AccountError(
            f"id_token_alg must be {' or '.join(SIGNING_ALGS)}, got {id_token_alg!r}"
        )
    for uri in (*redirect_uris, *post_logout_redirect_uris):
        check_redirect_uri(uri)
    _check_name(name)


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
    name: str | None = None,
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    consent_required: bool = False,
    id_token_alg: str = DEFAULT_ID_TOKEN_ALG,
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
    redirects = list(dict.fromkeys(redirect_uris))
    post_logout = list(dict.fromkeys(post_logout_redirect_uris))
    chosen = list(dict.fromkeys(grant_types)) or (
        list(LOGIN_GRANTS) if public or redirects else ["client_credentials"]
    )
    targets = list(dict.fromkeys(audiences)) or [default_audience]
    _check_settings(
        grant_types=chosen,
        scopes=scopes,
        audiences=targets,
        public=public,
        alg=alg,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        name=name,
        redirect_uris=redirects,
        post_logout_redirect_uris=post_logout,
        consent_required=consent_required,
        id_token_alg=id_token_alg,
    )
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
        name=name,
        redirect_uris=redirects,
        post_logout_redirect_uris=post_logout,
        consent_required=consent_required,
        id_token_alg=id_token_alg,
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
            "redirect_uris": redirects,
            "consent_required": consent_required,
        },
    )
    return NewClient(client=client, secret=secret)


async def get_client(database: Database, client_id: str) -> Client:
    async with database.session() as session:
        return await _existing(session, client_id)


async def update_client(
    database: Database, client_id: str, changes: Mapping[str, Any], *, now: datetime, actor: str
) -> Client:
    """Change some of `CHANGEABLE` (a key present is a change; None resets a lifetime or
    alg to the issuer's default). The result follows the rules of a new registration."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise AccountError(f"cannot change {', '.join(unknown)} (only {', '.join(CHANGEABLE)})")
    values = dict(changes)
    for name in (
        "grant_types",
        "scopes",
        "audiences",
        "redirect_uris",
        "post_logout_redirect_uris",
    ):
        if name in values:
            values[name] = list(dict.fromkeys(values[name] or ()))
    if "id_token_alg" in values and values["id_token_alg"] is None:
        values["id_token_alg"] = DEFAULT_ID_TOKEN_ALG
    if "consent_required" in values:
        values["consent_required"] = bool(values["consent_required"])
    if values.get("grant_types") == [] or values.get("audiences") == []:
        raise AccountError("a client needs at least one grant type and one audience")
    async with database.session() as session:
        row = await _existing(session, client_id, lock=bool(values))
        if not values:
            return row  # nothing to change (a PATCH of {}): no UPDATE, no audit event
        merged = {name: values.get(name, getattr(row, name)) for name in CHANGEABLE}
        _check_settings(public=row.public, **merged)
        await clients.change(session, client_id, **values)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="client.update",
            subject=client_id,
            detail={name: values[name] for name in sorted(values)},
        )
        return await _reloaded(session, client_id)


async def disable_client(
    database: Database, client_id: str, *, now: datetime, actor: str
) -> ClientDisabled:
    """Refuse the client everywhere and end its refresh families (reason `client_disabled`)."""
    async with database.session() as session:
        await _existing(session, client_id, lock=True)
        await clients.change(session, client_id, disabled=True)
        ended = await families.revoke_for_client(
            session, client_id, reason="client_disabled", now=now
        )
        audit.record(
            session,
            now=now,
            actor=actor,
            action="client.disable",
            subject=client_id,
            detail={"families_revoked": len(ended)},
        )
        client = await _reloaded(session, client_id)
    count_revoked_families(len(ended))
    return ClientDisabled(client=client, sessions_revoked=len(ended))


async def enable_client(database: Database, client_id: str, *, now: datetime, actor: str) -> Client:
    """Accept the client again (its ended sessions stay ended)."""
    async with database.session() as session:
        await _existing(session, client_id, lock=True)
        await clients.change(session, client_id, disabled=False)
        audit.record(session, now=now, actor=actor, action="client.enable", subject=client_id)
        return await _reloaded(session, client_id)


async def rotate_secret(
    database: Database, client_id: str, *, overlap_seconds: int, now: datetime, actor: str
) -> NewSecret:
    """A new secret, shown once; the old one keeps working for `overlap_seconds` (0: not at
    all) so that the client's instances can switch over. A secret rotated earlier and still
    in its overlap stops working now: only the newest previous secret is kept."""
    if not 0 <= overlap_seconds <= _INT32_MAX:
        raise AccountError(f"the overlap must be between 0 and {_INT32_MAX} seconds")
    async with database.session() as session:
        row = await _existing(session, client_id, lock=True)
        if row.public:
            raise AccountError("a public client has no secret")
        secret = generate_secret()
        until = now + timedelta(seconds=overlap_seconds) if overlap_seconds else None
        await clients.change(
            session,
            client_id,
            secret_digest=secret_digest(secret),
            previous_secret_digest=row.secret_digest if until else None,
            previous_secret_expires_at=until,
        )
        audit.record(
            session,
            now=now,
            actor=actor,
            action="client.rotate_secret",
            subject=client_id,
            detail={"overlap_seconds": overlap_seconds},
        )
        client = await _reloaded(session, client_id)
    return NewSecret(client=client, secret=secret, previous_valid_until=until)


async def delete_client(
    database: Database, client_id: str, *, force: bool, now: datetime, actor: str
) -> int:
    """Delete the client. While it has live refresh families this is refused unless
    `force`, which revokes them first (reason `client_deleted`, audited); its families and
    their tokens are then deleted with it. How many live families were ended."""
    async with database.session() as session:
        await _existing(session, client_id, lock=True)
        live = await families.count_live_for_client(session, client_id, now=now)
        if live and not force:
            raise ClientInUse(
                f"client {client_id} has {live} live sessions; disable it, or delete with force "
                "to end them"
            )
        ended = await families.revoke_for_client(
            session, client_id, reason="client_deleted", now=now
        )
        await clients.remove(session, client_id)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="client.delete",
            subject=client_id,
            detail={"families_revoked": len(ended), "forced": force},
        )
    count_revoked_families(len(ended))
    return live


async def _existing(session: AsyncSession, client_id: str, *, lock: bool = False) -> Client:
    row = await clients.by_id(session, client_id, lock=lock)
    if row is None:
        raise UnknownAccount("no such client")
    return row


async def _reloaded(session: AsyncSession, client_id: str) -> Client:
    row = await clients.by_id(session, client_id)
    assert row is not None  # changed in this very transaction
    await session.refresh(row)
    return row
